//! NVRTC, the CUDA runtime compiler: CUDA C++ source -> PTX or CUBIN.
//!
//! Used by the kernel build tool (`cinder-kernelc`) that regenerates the kernel images
//! committed under `kernels/generated/`. Nothing at query time compiles code, so a GPU node
//! needs only the driver. NVRTC is loaded dynamically: without `libnvrtc.so.12` every
//! function here returns [`CudaError::NoNvrtc`].

use std::ffi::{CStr, CString, c_char};
use std::panic::{self, AssertUnwindSafe};

use cudarc::nvrtc::{result, sys};

use crate::device::GpuTarget;
use crate::error::{CudaError, Result, panic_message};

/// Whether `libnvrtc` can be loaded on this machine.
pub fn present() -> bool {
    // SAFETY: only tries to dlopen the NVRTC library by its usual names.
    unsafe { sys::is_culib_present() }
}

/// NVRTC's version, `(major, minor)`.
pub fn version() -> Result<(i32, i32)> {
    guarded(|| {
        let (mut major, mut minor) = (0, 0);
        // SAFETY: NVRTC is loaded (checked by `guarded`); both out-pointers are valid.
        unsafe { sys::nvrtcVersion(&mut major, &mut minor) }
            .result()
            .map_err(|e| nvrtc_failure("nvrtcVersion", "-", e))?;
        Ok((major, minor))
    })
}

/// Compiles one CUDA C++ translation unit for `target`: a CUBIN for [`GpuTarget::Cubin`], PTX
/// text (without a trailing NUL) for [`GpuTarget::Ptx`].
///
/// `headers` are `(include name, contents)` pairs handed to NVRTC in memory, so the output
/// does not depend on where the sources sit on disk. `options` are passed to NVRTC after the
/// architecture flag (e.g. `-std=c++17`).
pub fn compile(
    source: &str,
    name: &str,
    headers: &[(String, String)],
    target: GpuTarget,
    options: &[String],
) -> Result<Vec<u8>> {
    guarded(|| {
        let nul =
            |what: &str| compile_error(name, target, &format!("{what} contains a NUL byte"), "");
        let src = CString::new(source).map_err(|_| nul("source"))?;
        let cname = CString::new(name).map_err(|_| nul("name"))?;
        let header_names = headers
            .iter()
            .map(|(n, _)| CString::new(n.as_str()).map_err(|_| nul("header name")))
            .collect::<Result<Vec<_>>>()?;
        let header_texts = headers
            .iter()
            .map(|(_, t)| CString::new(t.as_str()).map_err(|_| nul("header")))
            .collect::<Result<Vec<_>>>()?;
        let name_ptrs: Vec<*const c_char> = header_names.iter().map(|c| c.as_ptr()).collect();
        let text_ptrs: Vec<*const c_char> = header_texts.iter().map(|c| c.as_ptr()).collect();
        let mut raw = std::mem::MaybeUninit::uninit();
        // SAFETY: every pointer is to a NUL-terminated string that outlives the program
        // (NVRTC copies sources and headers at creation); the two header arrays have
        // `headers.len()` entries each.
        unsafe {
            sys::nvrtcCreateProgram(
                raw.as_mut_ptr(),
                src.as_ptr(),
                cname.as_ptr(),
                headers.len() as std::ffi::c_int,
                text_ptrs.as_ptr(),
                name_ptrs.as_ptr(),
            )
        }
        .result()
        .map_err(|e| nvrtc_failure("nvrtcCreateProgram", name, e))?;
        // SAFETY: nvrtcCreateProgram succeeded, so it initialised the program handle.
        let program = Program(unsafe { raw.assume_init() });
        let mut all_options = vec![format!("--gpu-architecture={}", target.arch_flag())];
        all_options.extend(options.iter().cloned());
        // SAFETY: `program` was created above and is destroyed only by its Drop.
        if let Err(e) = unsafe { result::compile_program(program.0, &all_options) } {
            // SAFETY: as above.
            let log = unsafe { result::get_program_log(program.0) }
                .map(|log| c_chars_to_string(&log))
                .unwrap_or_default();
            return Err(compile_error(name, target, &format!("{e:?}"), &log));
        }
        match target {
            // SAFETY: as above; the program compiled successfully.
            GpuTarget::Ptx { .. } => unsafe { result::get_ptx(program.0) }
                .map(|ptx| c_chars_to_string(&ptx).into_bytes())
                .map_err(|e| nvrtc_failure("nvrtcGetPTX", name, e)),
            GpuTarget::Cubin { .. } => {
                let mut size = 0usize;
                // SAFETY: as above; `size` is a valid out-pointer.
                unsafe { sys::nvrtcGetCUBINSize(program.0, &mut size) }
                    .result()
                    .map_err(|e| nvrtc_failure("nvrtcGetCUBINSize", name, e))?;
                let mut cubin = vec![0u8; size];
                // SAFETY: `cubin` holds exactly the `size` bytes NVRTC asked for.
                unsafe { sys::nvrtcGetCUBIN(program.0, cubin.as_mut_ptr().cast::<c_char>()) }
                    .result()
                    .map_err(|e| nvrtc_failure("nvrtcGetCUBIN", name, e))?;
                Ok(cubin)
            }
        }
    })
}

/// An NVRTC program, destroyed on drop.
struct Program(sys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: the program was created by `create_program` and is destroyed only here.
        let _ = unsafe { result::destroy_program(self.0) };
    }
}

/// Checks that NVRTC is present and turns a panic inside cudarc (e.g. a symbol missing from
/// an old NVRTC) into an error that carries the panic's message.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    if !present() {
        return Err(CudaError::NoNvrtc);
    }
    panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = panic_message(payload.as_ref());
        Err(CudaError::Compile {
            name: "-".to_string(),
            target: "-".to_string(),
            message: format!("NVRTC failed: {message}"),
            log: String::new(),
        })
    })
}

fn c_chars_to_string(chars: &[c_char]) -> String {
    // NVRTC's buffers are NUL-terminated; stop at the first NUL.
    let bytes: Vec<u8> = chars.iter().map(|&c| c as u8).collect();
    match CStr::from_bytes_until_nul(&bytes) {
        Ok(s) => s.to_string_lossy().into_owned(),
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn nvrtc_failure(op: &str, name: &str, e: result::NvrtcError) -> CudaError {
    CudaError::Compile {
        name: name.to_string(),
        target: "-".to_string(),
        message: format!("{op} failed: {e:?}"),
        log: String::new(),
    }
}

fn compile_error(name: &str, target: GpuTarget, message: &str, log: &str) -> CudaError {
    CudaError::Compile {
        name: name.to_string(),
        target: target.to_string(),
        message: message.to_string(),
        log: log.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL: &str = r#"extern "C" __global__ void add_one(int* x, int n) {
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) x[i] += 1;
    }"#;

    #[test]
    fn without_nvrtc_compile_is_a_typed_error() {
        if present() {
            return; // covered by the test below
        }
        let err = compile(
            KERNEL,
            "add_one.cu",
            &[],
            GpuTarget::Ptx { compute: 80 },
            &[],
        )
        .unwrap_err();
        assert!(matches!(err, CudaError::NoNvrtc), "{err}");
        assert!(matches!(version(), Err(CudaError::NoNvrtc)));
    }

    #[test]
    fn with_nvrtc_compiles_ptx_and_cubin_and_reports_errors() {
        if !present() {
            eprintln!("skipped: NVRTC not found (scripts/check provides it)");
            return;
        }
        let headers = vec![("one.cuh".to_string(), "#define ONE 1\n".to_string())];
        let src = format!("#include \"one.cuh\"\n{}", KERNEL.replace("+= 1", "+= ONE"));
        let ptx = compile(
            &src,
            "add_one.cu",
            &headers,
            GpuTarget::Ptx { compute: 80 },
            &[],
        )
        .unwrap();
        let ptx = String::from_utf8(ptx).unwrap();
        assert!(ptx.contains(".target sm_80"), "{ptx}");
        assert!(ptx.contains(".entry add_one"), "{ptx}");
        let cubin = compile(KERNEL, "add_one.cu", &[], GpuTarget::Cubin { sm: 90 }, &[]).unwrap();
        assert_eq!(&cubin[..4], b"\x7fELF", "a CUBIN is an ELF image");
        let err = compile(
            "this is not C++",
            "bad.cu",
            &[],
            GpuTarget::Cubin { sm: 80 },
            &[],
        )
        .unwrap_err();
        match err {
            CudaError::Compile { log, target, .. } => {
                assert_eq!(target, "sm_80");
                assert!(log.contains("bad.cu"), "{log}");
            }
            other => panic!("unexpected error: {other}"),
        }
    }
}
