//! The `cinder` binary end to end, as a user runs it.

use std::process::Command;

fn cinder(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cinder"))
        .args(args)
        .output()
        .expect("the cinder binary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().expect("exited, not killed"), text)
}

#[test]
fn doctor_succeeds_on_any_machine_and_says_what_it_found() {
    let (code, out) = cinder(&["doctor"]);
    assert_eq!(code, 0, "{out}");
    for label in [
        "CUDA driver",
        "CUDA device",
        "Embedded kernels",
        "Kernel targets",
        "CPU cores",
        "Mode",
    ] {
        assert!(out.contains(label), "missing {label}:\n{out}");
    }
    assert!(out.contains("hash/hash_columns"), "{out}");
    assert!(
        out.contains("sm_80") && out.contains("sm_90") && out.contains("compute_80"),
        "{out}"
    );
    if !cinder_cuda::driver_present() {
        assert!(out.contains("no CUDA driver found"), "{out}");
        assert!(out.contains("cpu (plain DataFusion"), "{out}");
    }
}

#[test]
fn doctor_reports_an_explicit_cuda_request_it_cannot_honour() {
    if cinder_cuda::probe(0).is_ok() {
        return; // a GPU is here: the request can be honoured
    }
    let (code, out) = cinder(&["doctor", "--device", "cuda"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("error: ") && out.contains("cinder.device = cuda"),
        "{out}"
    );
    let (code, out) = cinder(&["doctor", "--device", "host"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("host (host reference kernels"), "{out}");
}

#[test]
fn gpu_check_without_a_device_says_so_and_exits_2() {
    if cinder_cuda::probe(0).is_ok() {
        return; // a GPU is here: `cinder gpu-check` is the real check
    }
    let (code, out) = cinder(&["gpu-check"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.starts_with("no CUDA device"), "{out}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let (code, out) = cinder(&["doctor", "--device", "gpu"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("auto, cuda, host"), "{out}");
    let (code, _) = cinder(&["gpu-check", "--sizes", "ten"]);
    assert_eq!(code, 2);
}
