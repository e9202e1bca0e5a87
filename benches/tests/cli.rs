//! The `cinder` binary end to end, as a user runs it.

use std::process::Command;

fn cinder(args: &[&str]) -> (i32, String) {
    cinder_logging(args, "warn")
}

/// `cinder` with `CINDER_LOG=level`.
fn cinder_logging(args: &[&str], level: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cinder"))
        .args(args)
        .env("CINDER_LOG", level)
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

/// `cinder tpch` running only q6 at SF0.01 on the CPU, with its data in `data`.
fn q6_at_sf_0_01(data: &std::path::Path) -> (i32, String) {
    let data = data.to_str().expect("a UTF-8 temp path");
    cinder(&[
        "tpch",
        "--scale",
        "0.01",
        "--device",
        "cpu",
        "--iterations",
        "1",
        "--queries",
        "6",
        "--data",
        data,
    ])
}

#[test]
fn tpch_runs_all_22_queries_at_sf_0_01_on_the_host_path_and_writes_json() {
    let dir = std::env::temp_dir().join(format!("cinder-tpch-test-{}", std::process::id()));
    let data = dir.join("data");
    let json = dir.join("out.json");
    std::fs::create_dir_all(&dir).unwrap();
    let (code, out) = cinder(&[
        "tpch",
        "--scale",
        "0.01",
        "--device",
        "host",
        "--iterations",
        "1",
        "--data",
        data.to_str().unwrap(),
        "--output",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("generating SF0.01"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let queries = report["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 22);
    for (i, q) in queries.iter().enumerate() {
        assert_eq!(q["query"], format!("Query {}", i + 1));
        let iterations = q["iterations"].as_array().unwrap();
        assert_eq!(iterations.len(), 1);
        assert!(iterations[0]["elapsed"].as_f64().unwrap() > 0.0);
    }
    // Answer sizes that do not depend on timing: q1 has 4 groups (return flag x line status),
    // q6 and q14 one row, and q15 finds its top supplier(s).
    let rows = |q: usize| {
        queries[q - 1]["iterations"][0]["row_count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(rows(1), 4);
    assert_eq!(rows(6), 1);
    assert_eq!(rows(14), 1);
    assert!(
        rows(15) >= 1,
        "q15's answer is its select, not the drop view"
    );
    assert_eq!(report["cinder"]["tables"]["lineitem"], 60175);

    // The Cinder side: every answer agrees with the baseline, and filters and projections
    // moved (q1's date filter and charge projection, q6's filter).
    assert!(out.contains("22 of 22 queries agree"), "{out}");
    let run = &report["cinder"]["cinder_run"];
    assert_eq!(run["mismatches"], 0, "{run}");
    assert_eq!(run["speed_claim"], false);
    assert!(run["mode"].as_str().unwrap().starts_with("host"), "{run}");
    let per_query = run["per_query"].as_array().unwrap();
    assert_eq!(per_query.len(), 22);
    assert!(per_query.iter().all(|q| q["answers_agree"] == true));
    assert!(
        per_query[0]["on_cinder"].as_u64().unwrap() >= 2,
        "{}",
        per_query[0]
    );
    assert!(
        per_query[5]["on_cinder"].as_u64().unwrap() >= 1,
        "{}",
        per_query[5]
    );
    assert!(
        std::fs::read_to_string(json.with_extension("svg"))
            .unwrap()
            .starts_with("<svg")
    );

    // --resident: the tables are loaded once (the baseline's in DataFusion's memory tables,
    // Cinder's in its resident tables, on the host here) and the answers still agree.
    let resident_json = dir.join("resident.json");
    let (code, out) = cinder(&[
        "tpch",
        "--scale",
        "0.01",
        "--device",
        "host",
        "--iterations",
        "1",
        "--resident",
        "--data",
        data.to_str().unwrap(),
        "--output",
        resident_json.to_str().unwrap(),
        "--set",
        "cinder.device_regions=true",
        "--set",
        "batch_rows = 20000",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("22 of 22 queries agree"), "{out}");
    assert!(out.contains("read the tables into memory"), "{out}");
    assert!(
        out.contains("Cinder's run sets cinder.device_regions=true, batch_rows = 20000"),
        "{out}"
    );
    assert!(out.contains("tables in memory"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&resident_json).unwrap()).unwrap();
    let resident = &report["cinder"]["resident"];
    assert!(resident["read_ms"].as_f64().unwrap() > 0.0, "{resident}");
    assert!(
        resident["cinder_load_ms"].as_f64().unwrap() > 0.0,
        "{resident}"
    );
    assert_eq!(resident["cinder_location"], "host", "{resident}");
    assert_eq!(resident["device_bytes"], 0, "{resident}");
    let run = &report["cinder"]["cinder_run"];
    assert_eq!(run["mismatches"], 0, "{run}");
    assert!(
        run["per_query"][0]["on_cinder"].as_u64().unwrap() >= 2,
        "{run}"
    );
    // Without --resident the report says the tables were read from Parquet.
    assert!(
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&json).unwrap())
            .unwrap()["cinder"]["resident"]
            .is_null()
    );

    // A second run reuses the cache; a damaged cache is detected and regenerated.
    let (code, out) = q6_at_sf_0_01(&data);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("reusing SF0.01"), "{out}");
    let part = std::fs::read_dir(data.join("lineitem"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&part, b"not parquet").unwrap();
    let (code, out) = q6_at_sf_0_01(&data);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("regenerating"), "{out}");
    std::fs::remove_file(data.join("_complete.json")).unwrap();
    let (code, out) = q6_at_sf_0_01(&data);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no completion marker"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tpch_metrics_say_when_batches_fell_back() {
    // Device out-of-memory injected into every attempt: batches are split (three times at
    // most), then run on DataFusion's CPU expressions; --metrics says so per operator, and the
    // answers still agree.
    let dir = std::env::temp_dir().join(format!("cinder-tpch-metrics-{}", std::process::id()));
    let (code, out) = cinder(&[
        "tpch",
        "--scale",
        "0.01",
        "--device",
        "host",
        "--iterations",
        "1",
        "--queries",
        "6",
        "--metrics",
        "--set",
        "test_inject_failure=oom",
        "--data",
        dir.join("data").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("answers: 1 of 1"), "{out}");
    let said: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("after device out-of-memory:"))
        .collect();
    assert!(said.iter().any(|l| l.contains("batches split")), "{out}");
    assert!(said.iter().any(|l| l.contains("on the CPU")), "{out}");
    // In host mode no batch is held on a device.
    assert!(
        !said.iter().any(|l| l.contains("through the host")),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tpch_rejects_bad_arguments_and_unavailable_modes() {
    let (code, out) = cinder(&["tpch", "--scale", "0", "--device", "cpu"]);
    assert_ne!(code, 0);
    assert!(out.contains("--scale must be positive"), "{out}");
    let (code, out) = cinder(&["tpch", "--queries", "23", "--device", "cpu"]);
    assert_ne!(code, 0);
    assert!(out.contains("queries are numbered 1 to 22"), "{out}");
    let (code, out) = cinder(&["tpch", "--device", "host", "--set", "no_such_setting=1"]);
    assert_ne!(code, 0);
    assert!(out.contains("--set no_such_setting=1"), "{out}");
    let (code, out) = cinder(&["tpch", "--device", "host", "--set", "batch_rows"]);
    assert_ne!(code, 0);
    assert!(out.contains("expected KEY=VALUE"), "{out}");
    let (code, out) = cinder(&["tpch", "--device", "cpu", "--set", "batch_rows=5"]);
    assert_ne!(code, 0);
    assert!(out.contains("--device cpu has none"), "{out}");
    if cinder_cuda::probe(0).is_err() {
        let (code, out) = cinder(&["tpch", "--device", "cuda", "--scale", "0.01"]);
        assert_ne!(code, 0);
        assert!(out.contains("cinder.device = cuda"), "{out}");
    }
}

/// Issue 7's parity check: all 22 queries at SF0.1 through DataFusion + Cinder (host path)
/// give the same answers as plain DataFusion.
#[test]
fn tpch_sf_0_1_answers_agree_on_the_host_path() {
    let dir = std::env::temp_dir().join(format!("cinder-tpch-sf01-{}", std::process::id()));
    let data = dir.to_str().unwrap();
    let base = [
        "tpch",
        "--scale",
        "0.1",
        "--device",
        "host",
        "--iterations",
        "1",
        "--data",
        data,
    ];
    let (code, out) = cinder(&base);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("22 of 22 queries agree"), "{out}");

    // With the joins DataFusion partitions (at SF0.1 on a few cores, some are) collecting
    // their build side instead, and device regions on: the same answers.
    let settings = [
        "--set",
        "collect_left_joins=true",
        "--set",
        "device_regions=true",
    ];
    let (code, out) = cinder_logging(&[&base[..], &settings[..]].concat(), "debug");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("22 of 22 queries agree"), "{out}");
    // DataFusion partitions joins only with more than one partition (one per core).
    if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
        assert!(
            out.contains("partitioned join(s) now collect their build side"),
            "{out}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
