//! docs/extending.md shows this example's files: each code block that
//! names a file in its first line (`// examples/guestbook/...`) must be
//! that file, whole, so the walk-through never drifts from code that
//! builds and passes its tests.

use std::path::Path;

#[test]
fn the_walk_through_shows_the_files_as_they_are() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let page = std::fs::read_to_string(root.join("docs/extending.md")).unwrap();
    let mut shown = Vec::new();
    for block in page.split("```rust\n").skip(1) {
        let block = block.split("\n```").next().unwrap();
        let Some((first, code)) = block.split_once('\n') else {
            continue;
        };
        let Some(path) = first.strip_prefix("// ") else {
            continue;
        };
        let file = std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| {
            panic!("docs/extending.md shows {path}, which cannot be read: {e}")
        });
        assert_eq!(
            code.trim_end(),
            file.trim_end(),
            "docs/extending.md shows {path} differently from the file"
        );
        shown.push(path.to_owned());
    }
    for file in [
        "examples/guestbook/src/lib.rs",
        "examples/guestbook/src/main.rs",
        "examples/guestbook/src/routes.rs",
        "examples/guestbook/src/migrations.rs",
        "examples/guestbook/src/entry.rs",
        "examples/guestbook/tests/guestbook.rs",
    ] {
        assert!(
            shown.iter().any(|s| s == file),
            "docs/extending.md does not show {file}"
        );
    }
}
