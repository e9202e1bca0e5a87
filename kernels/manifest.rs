//! The kernel manifest: which generated images exist for which CUDA sources.
//!
//! Shared (via `#[path]`) by `build.rs`, which embeds the images and refuses stale ones, and by
//! `cinder-kernelc`, which regenerates them. `kernels/generated/manifest.json` is its on-disk
//! form. Paths in it are relative to the `kernels/` directory and use `/`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where CUDA sources live, relative to `kernels/`.
pub const SOURCE_DIR: &str = "cuda";
/// Where shared headers live, relative to `kernels/`; they are included as `cinder/<name>.cuh`.
pub const INCLUDE_DIR: &str = "cuda/include";
/// Where generated images and the manifest live, relative to `kernels/`.
pub const GENERATED_DIR: &str = "generated";
/// The manifest's file name inside [`GENERATED_DIR`].
pub const MANIFEST_FILE: &str = "manifest.json";

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// NVRTC version that produced the images, e.g. `12.4`.
    pub nvrtc_version: String,
    /// PTX ISA version of the PTX images (from their `.version` line), e.g. `8.4`.
    pub ptx_isa: String,
    /// Oldest Linux driver that can JIT the PTX images.
    pub ptx_min_driver: String,
    /// NVRTC options used for every image (after `--gpu-architecture`).
    pub options: Vec<String>,
    /// One entry per `.cu` source.
    pub modules: Vec<ModuleEntry>,
}

/// One compiled source file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleEntry {
    /// Module name: the source path under `cuda/` without `.cu`, e.g. `hash/hash_columns`.
    pub name: String,
    /// Source path relative to `kernels/`.
    pub source: String,
    /// SHA-256 of the source and every shared header (see [`source_digest`]).
    pub source_sha256: String,
    /// `extern "C"` kernel entry points, from the PTX `.entry` lines.
    pub kernels: Vec<String>,
    /// The images, one per target.
    pub images: Vec<ImageEntry>,
}

/// One generated image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageEntry {
    /// `sm_80`, `sm_90` (CUBIN) or `compute_80` (PTX).
    pub target: String,
    /// Image path relative to `kernels/generated/`.
    pub file: String,
    /// SHA-256 of the image file.
    pub sha256: String,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every `.cu` file under `kernels/cuda/`, as paths relative to `kernels/`, sorted.
pub fn list_sources(kernels_root: &Path) -> io::Result<Vec<String>> {
    list_files(kernels_root, SOURCE_DIR, "cu")
}

/// Every shared header under `kernels/cuda/include/`, as `(include name, path relative to
/// kernels/)`, sorted; the include name is what sources write in `#include "..."`.
pub fn list_headers(kernels_root: &Path) -> io::Result<Vec<(String, String)>> {
    let prefix = format!("{INCLUDE_DIR}/");
    Ok(list_files(kernels_root, INCLUDE_DIR, "cuh")?
        .into_iter()
        .map(|rel| (rel.strip_prefix(&prefix).unwrap_or(&rel).to_string(), rel))
        .collect())
}

/// The digest that ties a module's images to its inputs: the source and every shared header
/// (conservatively: a change to any header marks every module stale), names included.
pub fn source_digest(kernels_root: &Path, source: &str) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut add = |rel: &str| -> io::Result<()> {
        let bytes = fs::read(kernels_root.join(rel))?;
        hasher.update((rel.len() as u64).to_le_bytes());
        hasher.update(rel.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        Ok(())
    };
    add(source)?;
    for (_, header) in list_headers(kernels_root)? {
        add(&header)?;
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The module name for a source path: `cuda/hash/hash_columns.cu` -> `hash/hash_columns`.
pub fn module_name(source: &str) -> String {
    let rel = source
        .strip_prefix(&format!("{SOURCE_DIR}/"))
        .unwrap_or(source);
    rel.strip_suffix(".cu").unwrap_or(rel).to_string()
}

/// Reads `kernels/generated/manifest.json`.
pub fn read_manifest(kernels_root: &Path) -> Result<Manifest, String> {
    let path = kernels_root.join(GENERATED_DIR).join(MANIFEST_FILE);
    let text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is malformed: {e}", path.display()))
}

fn list_files(kernels_root: &Path, dir: &str, ext: &str) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![kernels_root.join(dir)];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                let rel = path
                    .strip_prefix(kernels_root)
                    .expect("walked below the root")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}
