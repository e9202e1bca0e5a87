//! Embeds the committed kernel images (`generated/`) into the crate, and refuses to build if
//! they are stale: a CUDA source or header changed since `scripts/gen-kernels` last ran, an
//! image file is corrupt, or a source has no images. A stale image would run old code on the
//! GPU while the host reference tests the new contract, so this is an error, not a warning.

#[path = "manifest.rs"]
#[allow(dead_code)]
mod manifest;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

const REGENERATE: &str =
    "run `scripts/gen-kernels` (it provides the pinned NVRTC) and commit kernels/generated/";

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!(
        "cargo::rerun-if-changed={}",
        root.join(manifest::SOURCE_DIR).display()
    );
    println!(
        "cargo::rerun-if-changed={}",
        root.join(manifest::GENERATED_DIR).display()
    );
    println!("cargo::rerun-if-changed=manifest.rs");
    match embed(&root) {
        Ok(code) => {
            let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("embedded.rs");
            fs::write(&out, code).expect("writing embedded.rs");
        }
        Err(problems) => {
            for p in &problems {
                println!("cargo::error=stale or missing kernel images: {p}");
            }
            println!("cargo::error={REGENERATE}");
        }
    }
}

fn embed(root: &Path) -> Result<String, Vec<String>> {
    let manifest = manifest::read_manifest(root).map_err(|e| vec![e])?;
    let mut problems = Vec::new();
    let sources =
        manifest::list_sources(root).map_err(|e| vec![format!("listing sources: {e}")])?;
    for source in &sources {
        if !manifest.modules.iter().any(|m| &m.source == source) {
            problems.push(format!("{source} has no generated images"));
        }
    }
    let mut code = String::new();
    let lit = |s: &str| format!("{s:?}");
    writeln!(code, "/// NVRTC version that produced the embedded images.").unwrap();
    writeln!(
        code,
        "pub const NVRTC_VERSION: &str = {};",
        lit(&manifest.nvrtc_version)
    )
    .unwrap();
    writeln!(code, "/// PTX ISA version of the embedded PTX.").unwrap();
    writeln!(
        code,
        "pub const PTX_ISA: &str = {};",
        lit(&manifest.ptx_isa)
    )
    .unwrap();
    writeln!(
        code,
        "/// Oldest Linux driver that can JIT-compile the embedded PTX."
    )
    .unwrap();
    writeln!(
        code,
        "pub const PTX_MIN_DRIVER: &str = {};",
        lit(&manifest.ptx_min_driver)
    )
    .unwrap();
    writeln!(code, "/// Every embedded kernel module.").unwrap();
    writeln!(code, "pub static MODULES: &[EmbeddedModule] = &[").unwrap();
    for module in &manifest.modules {
        if !sources.contains(&module.source) {
            problems.push(format!(
                "{} is in the manifest but its source is gone",
                module.source
            ));
            continue;
        }
        match manifest::source_digest(root, &module.source) {
            Ok(digest) if digest == module.source_sha256 => {}
            Ok(_) => problems.push(format!(
                "{} (or a header under {}) changed since its images were generated",
                module.source,
                manifest::INCLUDE_DIR
            )),
            Err(e) => problems.push(format!("{}: {e}", module.source)),
        }
        writeln!(code, "    EmbeddedModule {{").unwrap();
        writeln!(code, "        name: {},", lit(&module.name)).unwrap();
        writeln!(code, "        source: {},", lit(&module.source)).unwrap();
        writeln!(code, "        kernels: &{:?},", module.kernels).unwrap();
        writeln!(code, "        images: &[").unwrap();
        for image in &module.images {
            let path = root.join(manifest::GENERATED_DIR).join(&image.file);
            match fs::read(&path) {
                Ok(bytes) if manifest::sha256_hex(&bytes) == image.sha256 => {}
                Ok(_) => {
                    problems.push(format!("{} does not match its manifest digest", image.file))
                }
                Err(e) => problems.push(format!("{}: {e}", image.file)),
            }
            let target = match image.target.split_once('_') {
                Some(("sm", n)) => format!("GpuTarget::Cubin {{ sm: {n} }}"),
                Some(("compute", n)) => format!("GpuTarget::Ptx {{ compute: {n} }}"),
                _ => {
                    problems.push(format!("{}: unknown target {}", image.file, image.target));
                    continue;
                }
            };
            writeln!(
                code,
                "            EmbeddedImage {{ target: {target}, bytes: include_bytes!({}) }},",
                lit(&path.display().to_string())
            )
            .unwrap();
        }
        writeln!(code, "        ],").unwrap();
        writeln!(code, "    }},").unwrap();
    }
    writeln!(code, "];").unwrap();
    if problems.is_empty() {
        Ok(code)
    } else {
        Err(problems)
    }
}
