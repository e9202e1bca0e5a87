//! Where plans with a memory limit spill: the directories Java gives (Spark's local
//! directories), else the OS's temporary directory. (A binary of its own: the directories are
//! the process's.)

use serde_json::json;

mod common;
#[path = "common/limited.rs"]
mod limited;
use limited::{ROWS, col, fields, input, run};

#[test]
fn spills_go_to_the_directories_given_or_the_os_temporary_one() {
    let sort = json!({"op": "sort", "keys": [
        {"expr": col(1), "ascending": true, "nulls_first": true}], "input": input(0)});
    let root = std::env::temp_dir().join(format!("cinder-spill-test-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    cinder_jni::native_plan::set_spill_directories(vec![root.clone()]);
    let (rows, spilled) = run(sort.clone(), fields(), 1, 2 << 20).unwrap();
    assert!(spilled > 0);
    assert_eq!(
        rows.iter().map(|b| b.num_rows()).sum::<usize>(),
        ROWS as usize
    );
    // One directory of DataFusion's in the one given, its spill files gone with the plan.
    let made: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    // (The runtime's tasks that read spill files may end just after the plan.)
    let left = || -> Vec<_> {
        std::fs::read_dir(&made[0])
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    for _ in 0..100 {
        if left().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(left().is_empty(), "{:?}", left());
    // A directory that cannot be made: the OS's temporary directory, and the plan runs.
    cinder_jni::native_plan::set_spill_directories(vec![root.join("file").join("below")]);
    std::fs::write(root.join("file"), b"not a directory").unwrap();
    let (rows, spilled) = run(sort, fields(), 1, 2 << 20).unwrap();
    assert!(spilled > 0);
    assert_eq!(
        rows.iter().map(|b| b.num_rows()).sum::<usize>(),
        ROWS as usize
    );
    cinder_jni::native_plan::set_spill_directories(Vec::new());
    std::fs::remove_dir_all(&root).unwrap();
}
