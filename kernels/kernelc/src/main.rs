//! `cinder-kernelc`: compiles every CUDA source under `kernels/cuda/` with NVRTC into the
//! images Cinder embeds (CUBIN for sm_80 and sm_90, PTX for compute_80) and writes them, with
//! `manifest.json`, to `kernels/generated/`. With `--check` it writes nothing and fails if the
//! committed images differ from what the sources compile to, or if any source fails to compile.
//!
//! Run it through `scripts/gen-kernels`, which provides the pinned NVRTC. It is a crate of its
//! own, not a binary of `cinder-kernels`, because `cinder-kernels` refuses to build while its
//! generated images are stale, and this tool is what makes them fresh.

#[path = "../../manifest.rs"]
#[allow(dead_code)]
mod manifest;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cinder_cuda::{GpuTarget, nvrtc};
use clap::Parser;
use manifest::{ImageEntry, Manifest, ModuleEntry};

/// Every image Cinder embeds per module: machine code for Ampere (sm_80, also runs on sm_86 and
/// sm_89) and Hopper (sm_90), plus PTX for compute_80 that newer GPUs JIT-compile.
const TARGETS: [GpuTarget; 3] = [
    GpuTarget::Cubin { sm: 80 },
    GpuTarget::Cubin { sm: 90 },
    GpuTarget::Ptx { compute: 80 },
];

/// NVRTC options for every image. `--fmad=false` keeps `a * b + c` as two rounded operations,
/// as the CPU (and so DataFusion, the oracle) computes it. `--device-int128` enables
/// `__int128`, which decimal arithmetic uses.
const OPTIONS: [&str; 3] = ["-std=c++17", "--fmad=false", "--device-int128"];

/// Oldest Linux driver per PTX ISA version (CUDA toolkit release notes, "CUDA Toolkit and
/// Corresponding Driver Versions").
const PTX_MIN_DRIVER: [(&str, &str); 9] = [
    ("8.0", "525.60.13 (CUDA 12.0)"),
    ("8.1", "530.30.02 (CUDA 12.1)"),
    ("8.2", "535.54.03 (CUDA 12.2)"),
    ("8.3", "545.23.06 (CUDA 12.3)"),
    ("8.4", "550.54.14 (CUDA 12.4)"),
    ("8.5", "555.42.02 (CUDA 12.5)"),
    ("8.6", "560.28.03 (CUDA 12.6)"),
    ("8.7", "570.26 (CUDA 12.8)"),
    ("8.8", "575.51.03 (CUDA 12.9)"),
];

#[derive(Parser)]
#[command(about = "Compile Cinder's CUDA kernels with NVRTC into kernels/generated/")]
struct Args {
    /// Compare with the committed images instead of writing; exit 1 on any difference.
    #[arg(long)]
    check: bool,
    /// The `kernels/` directory.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/.."))]
    root: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("cinder-kernelc: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let root = args
        .root
        .canonicalize()
        .map_err(|e| format!("{}: {e}", args.root.display()))?;
    let (major, minor) = nvrtc::version().map_err(|e| e.to_string())?;
    let nvrtc_version = format!("{major}.{minor}");
    let (manifest, images) = compile_all(&root, &nvrtc_version)?;
    if args.check {
        check(&root, &manifest, &images)
    } else {
        write(&root, &manifest, &images)?;
        Ok(true)
    }
}

/// Compiles every source for every target. Returns the manifest and the image bytes by file.
fn compile_all(
    root: &Path,
    nvrtc_version: &str,
) -> Result<(Manifest, BTreeMap<String, Vec<u8>>), String> {
    let headers = manifest::list_headers(root)
        .map_err(|e| format!("listing headers: {e}"))?
        .into_iter()
        .map(|(include, rel)| {
            fs::read_to_string(root.join(&rel))
                .map(|text| (include, text))
                .map_err(|e| format!("{rel}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options: Vec<String> = OPTIONS.iter().map(|s| s.to_string()).collect();
    let mut modules = Vec::new();
    let mut images = BTreeMap::new();
    let mut ptx_isa: Option<String> = None;
    let mut failures = Vec::new();
    for source in manifest::list_sources(root).map_err(|e| format!("listing sources: {e}"))? {
        let text = fs::read_to_string(root.join(&source)).map_err(|e| format!("{source}: {e}"))?;
        let name = manifest::module_name(&source);
        let mut entry = ModuleEntry {
            name: name.clone(),
            source: source.clone(),
            source_sha256: manifest::source_digest(root, &source)
                .map_err(|e| format!("{source}: {e}"))?,
            kernels: Vec::new(),
            images: Vec::new(),
        };
        for target in TARGETS {
            let image = match nvrtc::compile(&text, &source, &headers, target, &options) {
                Ok(image) => image,
                Err(e) => {
                    failures.push(e.to_string());
                    continue;
                }
            };
            let extension = match target {
                GpuTarget::Cubin { .. } => "cubin",
                GpuTarget::Ptx { .. } => "ptx",
            };
            if let GpuTarget::Ptx { .. } = target {
                let ptx = std::str::from_utf8(&image)
                    .map_err(|e| format!("{source}: PTX is not UTF-8: {e}"))?;
                entry.kernels = ptx_entries(ptx);
                let isa = ptx_version(ptx)
                    .ok_or_else(|| format!("{source}: PTX has no .version line"))?;
                match &ptx_isa {
                    Some(seen) if *seen != isa => {
                        return Err(format!("PTX ISA differs between modules: {seen} vs {isa}"));
                    }
                    _ => ptx_isa = Some(isa),
                }
            }
            let file = format!("{name}.{target}.{extension}");
            entry.images.push(ImageEntry {
                target: target.to_string(),
                file: file.clone(),
                sha256: manifest::sha256_hex(&image),
            });
            images.insert(file, image);
        }
        println!("compiled {source}: kernels {:?}", entry.kernels);
        modules.push(entry);
    }
    if !failures.is_empty() {
        return Err(format!(
            "{} NVRTC failure(s):\n{}",
            failures.len(),
            failures.join("\n")
        ));
    }
    let ptx_isa = ptx_isa.unwrap_or_default();
    let ptx_min_driver = PTX_MIN_DRIVER
        .iter()
        .find(|(isa, _)| *isa == ptx_isa)
        .map(|(_, driver)| driver.to_string())
        .ok_or_else(|| format!("unknown PTX ISA {ptx_isa}: add it to PTX_MIN_DRIVER"))?;
    let manifest = Manifest {
        nvrtc_version: nvrtc_version.to_string(),
        ptx_isa,
        ptx_min_driver,
        options,
        modules,
    };
    Ok((manifest, images))
}

/// The `.visible .entry NAME(` kernel names in a PTX module, in order.
fn ptx_entries(ptx: &str) -> Vec<String> {
    ptx.lines()
        .filter_map(|line| line.trim().strip_prefix(".visible .entry "))
        .map(|rest| rest.split('(').next().unwrap_or(rest).trim().to_string())
        .collect()
}

/// The PTX ISA version from a `.version X.Y` line.
fn ptx_version(ptx: &str) -> Option<String> {
    ptx.lines()
        .find_map(|line| line.trim().strip_prefix(".version "))
        .map(|v| v.trim().to_string())
}

fn write(
    root: &Path,
    manifest: &Manifest,
    images: &BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    let dir = root.join(manifest::GENERATED_DIR);
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| format!("clearing {}: {e}", dir.display()))?;
    }
    for (file, bytes) in images {
        let path = dir.join(file);
        fs::create_dir_all(path.parent().expect("image path has a parent"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    fs::write(dir.join(manifest::MANIFEST_FILE), manifest_json(manifest))
        .map_err(|e| format!("writing manifest: {e}"))?;
    println!(
        "wrote {} image(s) for {} module(s) to {} (NVRTC {}, PTX ISA {})",
        images.len(),
        manifest.modules.len(),
        dir.display(),
        manifest.nvrtc_version,
        manifest.ptx_isa
    );
    Ok(())
}

fn check(
    root: &Path,
    fresh: &Manifest,
    images: &BTreeMap<String, Vec<u8>>,
) -> Result<bool, String> {
    let committed = manifest::read_manifest(root)?;
    let mut problems = Vec::new();
    if committed.nvrtc_version != fresh.nvrtc_version {
        problems.push(format!(
            "images were generated by NVRTC {} but NVRTC {} is loaded: use scripts/gen-kernels, which pins it",
            committed.nvrtc_version, fresh.nvrtc_version
        ));
    }
    if manifest_json(&committed) != manifest_json(fresh) {
        problems.push(
            "kernels/generated/manifest.json differs from what the sources compile to".to_string(),
        );
    }
    for (file, bytes) in images {
        let path = root.join(manifest::GENERATED_DIR).join(file);
        match fs::read(&path) {
            Ok(on_disk) if on_disk == *bytes => {}
            Ok(_) => problems.push(format!("{file} differs from what its source compiles to")),
            Err(e) => problems.push(format!("{file}: {e}")),
        }
    }
    if problems.is_empty() {
        println!(
            "kernels/generated is up to date: {} module(s), {} image(s), NVRTC {}",
            fresh.modules.len(),
            images.len(),
            fresh.nvrtc_version
        );
        Ok(true)
    } else {
        for p in &problems {
            eprintln!("stale: {p}");
        }
        eprintln!("run scripts/gen-kernels and commit kernels/generated/");
        Ok(false)
    }
}

fn manifest_json(manifest: &Manifest) -> String {
    let mut text = serde_json::to_string_pretty(manifest).expect("manifest serialises");
    text.push('\n');
    text
}
