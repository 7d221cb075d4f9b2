//! The exercise trees: what `exercises/stageN/src/` should hold, given
//! `solutions/stageN/src/` and the book, and how to write it or compare with it.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use crate::book::{load_chapter, Chapter};
use crate::holes::{add_allow_line, find_holes, replace_holes, GenError};

/// The files of one exercise crate's `src/`: path relative to `src/` → contents.
pub type Tree = BTreeMap<PathBuf, Vec<u8>>;

/// The stages that have a solution: `N` for each `solutions/stageN/src`, in order.
pub fn stages(root: &Path) -> Result<Vec<u32>, GenError> {
    let dir = root.join("solutions");
    let entries = fs::read_dir(&dir)
        .map_err(|e| GenError::new("solutions", 0, format!("cannot read: {e}")))?;
    let mut stages: Vec<u32> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name.strip_prefix("stage")?.parse().ok()?;
            e.path().join("src").is_dir().then_some(n)
        })
        .collect();
    stages.sort_unstable();
    Ok(stages)
}

/// Every file under `dir`, as paths relative to it (sorted).
fn walk(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        for entry in fs::read_dir(dir.join(&rel))? {
            let entry = entry?;
            let path = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The slash-separated name of `path` for messages, whatever the platform.
pub fn display(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// What `exercises/stage<stage>/src/` must hold: the solution's files, with every hole
/// replaced by its `todo!()` and the crate root allowing what holes leave behind.
pub fn expected_tree(root: &Path, stage: u32) -> Result<Tree, GenError> {
    tree_with(root, stage, &|_, text| Ok(text.to_string()))
}

/// Rewrites a solution file (named by its first argument) before its holes become
/// `todo!()`s; see [`tree_with`].
pub type Prepare<'a> = &'a dyn Fn(&str, &str) -> Result<String, GenError>;

/// [`expected_tree`], with each solution source passed through `prepare` first (the
/// fixtures of `cargo xtask fixture` fill some holes by removing their markers).
pub fn tree_with(root: &Path, stage: u32, prepare: Prepare) -> Result<Tree, GenError> {
    let src_rel = PathBuf::from(format!("solutions/stage{stage}/src"));
    let src = root.join(&src_rel);
    let files = walk(&src)
        .map_err(|e| GenError::new(&display(&src_rel), 0, format!("cannot read: {e}")))?;
    let mut chapter: Option<Chapter> = None;
    let mut seen: HashMap<String, (String, usize)> = HashMap::new();
    let mut tree = Tree::new();
    for rel in files {
        let name = display(&src_rel.join(&rel));
        let bytes = fs::read(src.join(&rel))
            .map_err(|e| GenError::new(&name, 0, format!("cannot read: {e}")))?;
        if rel.extension().is_none_or(|e| e != "rs") {
            tree.insert(rel, bytes);
            continue;
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| GenError::new(&name, 0, "a Rust source file must be UTF-8"))?;
        let text = prepare(&name, &text)?;
        for hole in find_holes(&name, &text)? {
            if let Some((file, line)) = seen.get(&hole.id) {
                return Err(GenError::new(
                    &name,
                    hole.begin_line,
                    format!(
                        "hole id `{}` is already used at {file}:{line}; ids are unique per stage",
                        hole.id
                    ),
                ));
            }
            seen.insert(hole.id.clone(), (name.clone(), hole.begin_line));
        }
        let mut out = replace_holes(&name, &text, |hole| {
            if chapter.is_none() {
                chapter = Some(load_chapter(root, stage)?);
            }
            let chapter = chapter.as_ref().expect("loaded just above");
            chapter
                .section_of(&hole.id)
                .map_err(|message| GenError::new(&name, hole.begin_line, message))
        })?;
        if rel == Path::new("lib.rs") {
            out = add_allow_line(&out);
        }
        tree.insert(rel, out.into_bytes());
    }
    Ok(tree)
}

/// How the exercise tree on disk differs from the expected one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Files to create (missing on disk).
    pub missing: Vec<PathBuf>,
    /// Files whose contents differ.
    pub changed: Vec<PathBuf>,
    /// Files on disk that the solution does not have.
    pub extra: Vec<PathBuf>,
}

impl Diff {
    /// True when the tree on disk is what the generator writes.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.changed.is_empty() && self.extra.is_empty()
    }
}

/// Compares `expected` with the files under `dir` (which may not exist yet).
pub fn compare(expected: &Tree, dir: &Path) -> std::io::Result<Diff> {
    let actual = if dir.is_dir() { walk(dir)? } else { Vec::new() };
    let mut diff = Diff::default();
    for (rel, contents) in expected {
        match fs::read(dir.join(rel)) {
            Ok(bytes) if &bytes == contents => {}
            Ok(_) => diff.changed.push(rel.clone()),
            Err(_) => diff.missing.push(rel.clone()),
        }
    }
    diff.extra = actual
        .into_iter()
        .filter(|rel| !expected.contains_key(rel))
        .collect();
    Ok(diff)
}

/// Makes the files under `dir` be exactly `expected`: writes what is missing or
/// changed (nothing else, so cargo rebuilds only what changed), deletes extra files
/// and the directories they leave empty. Returns what it did.
pub fn write(expected: &Tree, dir: &Path) -> std::io::Result<Diff> {
    let diff = compare(expected, dir)?;
    for rel in diff.missing.iter().chain(&diff.changed) {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, &expected[rel])?;
    }
    for rel in &diff.extra {
        fs::remove_file(dir.join(rel))?;
        let mut parent = rel.parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            if fs::remove_dir(dir.join(p)).is_err() {
                break; // not empty
            }
            parent = p.parent();
        }
    }
    Ok(diff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holes::ALLOW_LINE;

    /// A fresh directory under the system's temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("xtask-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn put(&self, rel: &str, text: &str) {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }

        fn read(&self, rel: &str) -> String {
            fs::read_to_string(self.0.join(rel)).unwrap()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A workspace with a stage 1 solution of two holes, its chapter and a stage 2
    /// without holes.
    fn fake_workspace(name: &str) -> TempDir {
        let t = TempDir::new(name);
        t.put(
            "solutions/stage1/src/lib.rs",
            "//! Stage 1.\n\npub mod interp;\n\npub fn add(a: i64, b: i64) -> i64 {\n    // exercise-begin: add Return the sum.\n    a + b\n    // exercise-end\n}\n",
        );
        t.put(
            "solutions/stage1/src/interp/mod.rs",
            "pub fn run() {\n    let x = 1;\n    // exercise-begin: dispatch Write the loop.\n    loop {\n        break;\n    }\n    // exercise-end\n    let _ = x;\n}\n",
        );
        t.put("solutions/stage1/src/data.txt", "kept as is\n");
        t.put(
            "book/src/stage1-interpreter.md",
            "# Stage 1\n## Intro\n## The dispatch loop {#dispatch}\n## Adding {#add}\n",
        );
        t.put(
            "solutions/stage2/src/lib.rs",
            "//! Stage 2.\npub fn two() {}\n",
        );
        t
    }

    #[test]
    fn stages_are_the_solution_directories_in_order() {
        let t = fake_workspace("stages");
        t.put("solutions/stage10/src/lib.rs", "");
        t.put("solutions/notes/src/lib.rs", "");
        assert_eq!(stages(&t.0).unwrap(), vec![1, 2, 10]);
    }

    #[test]
    fn the_expected_tree_has_todos_with_sections_and_the_allow_line() {
        let t = fake_workspace("expected");
        let tree = expected_tree(&t.0, 1).unwrap();
        let text = |p: &str| String::from_utf8(tree[Path::new(p)].clone()).unwrap();
        assert_eq!(
            text("lib.rs"),
            format!("//! Stage 1.\n{ALLOW_LINE}\n\npub mod interp;\n\npub fn add(a: i64, b: i64) -> i64 {{\n    todo!(\"add: Return the sum. — book §1.3\")\n}}\n")
        );
        assert_eq!(
            text("interp/mod.rs"),
            "pub fn run() {\n    let x = 1;\n    todo!(\"dispatch: Write the loop. — book §1.2\");\n    let _ = x;\n}\n"
        );
        assert_eq!(text("data.txt"), "kept as is\n");
        assert_eq!(tree.len(), 3);
    }

    #[test]
    fn a_stage_without_holes_needs_no_chapter() {
        let t = fake_workspace("noholes");
        let tree = expected_tree(&t.0, 2).unwrap();
        assert_eq!(
            String::from_utf8(tree[Path::new("lib.rs")].clone()).unwrap(),
            format!("//! Stage 2.\n{ALLOW_LINE}\npub fn two() {{}}\n")
        );
    }

    #[test]
    fn a_hole_without_a_section_is_an_error_at_the_hole() {
        let t = fake_workspace("nosection");
        t.put(
            "book/src/stage1-interpreter.md",
            "# Stage 1\n## The dispatch loop {#dispatch}\n",
        );
        let err = expected_tree(&t.0, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "solutions/stage1/src/lib.rs:6: error: hole `add` has no `## … {#add}` section in book/src/stage1-interpreter.md"
        );
    }

    #[test]
    fn holes_without_a_chapter_are_an_error() {
        let t = fake_workspace("nochapter");
        fs::remove_file(t.0.join("book/src/stage1-interpreter.md")).unwrap();
        let err = expected_tree(&t.0, 1).unwrap_err();
        assert!(err.message.contains("no chapter"), "{err}");
    }

    #[test]
    fn a_repeated_id_in_another_file_is_an_error() {
        let t = fake_workspace("dup");
        t.put(
            "solutions/stage1/src/other.rs",
            "fn f() {\n    // exercise-begin: add Again.\n    // exercise-end\n}\n",
        );
        let err = expected_tree(&t.0, 1).unwrap_err();
        assert_eq!(err.file, "solutions/stage1/src/other.rs");
        assert_eq!(err.line, 2);
        assert!(err
            .message
            .contains("already used at solutions/stage1/src/lib.rs:6"));
    }

    #[test]
    fn write_then_compare_agree_and_extra_files_are_deleted() {
        let t = fake_workspace("write");
        t.put("exercises/stage1/Cargo.toml", "hand-written\n");
        t.put("exercises/stage1/src/old/gone.rs", "stale\n");
        t.put("exercises/stage1/src/lib.rs", "stale\n");
        let dir = t.0.join("exercises/stage1/src");
        let tree = expected_tree(&t.0, 1).unwrap();

        let before = compare(&tree, &dir).unwrap();
        assert_eq!(before.changed, vec![PathBuf::from("lib.rs")]);
        assert_eq!(
            before.missing,
            vec![PathBuf::from("data.txt"), PathBuf::from("interp/mod.rs")]
        );
        assert_eq!(before.extra, vec![PathBuf::from("old/gone.rs")]);

        assert_eq!(write(&tree, &dir).unwrap(), before);
        assert!(compare(&tree, &dir).unwrap().is_empty());
        assert!(!dir.join("old").exists());
        assert_eq!(t.read("exercises/stage1/Cargo.toml"), "hand-written\n");
        assert!(t
            .read("exercises/stage1/src/interp/mod.rs")
            .contains("todo!(\"dispatch"));
    }

    #[test]
    fn a_hand_edit_of_the_exercise_is_reported_as_changed() {
        let t = fake_workspace("edit");
        let dir = t.0.join("exercises/stage1/src");
        let tree = expected_tree(&t.0, 1).unwrap();
        write(&tree, &dir).unwrap();
        t.put("exercises/stage1/src/interp/mod.rs", "pub fn run() {}\n");
        let diff = compare(&tree, &dir).unwrap();
        assert_eq!(diff.changed, vec![PathBuf::from("interp/mod.rs")]);
        assert!(diff.missing.is_empty() && diff.extra.is_empty());
    }
}
