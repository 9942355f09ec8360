//! Writing results into a Markdown file between markers, so that a run
//! updates its own section of RELIABILITY.md and leaves the rest alone.

use std::fs;
use std::path::Path;

/// The markers around section `name`.
pub fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- BEGIN {name} (written by rustgi-chaos) -->"),
        format!("<!-- END {name} -->"),
    )
}

/// `text` with the part between the markers of `name` replaced by
/// `content`; None when the markers are missing.
pub fn replace_section(text: &str, name: &str, content: &str) -> Option<String> {
    let (begin, end) = markers(name);
    let b = text.find(&begin)? + begin.len();
    let e = b + text[b..].find(&end)?;
    Some(format!(
        "{}\n{}\n{}",
        &text[..b],
        content.trim_end(),
        &text[e..]
    ))
}

/// Replaces section `name` of the Markdown file `path` with `content`.
pub fn update_file(path: &Path, name: &str, content: &str) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let (begin, end) = markers(name);
    let new = replace_section(&text, name, content).ok_or_else(|| {
        format!(
            "{} has no section {name}: add the lines\n{begin}\n{end}",
            path.display()
        )
    })?;
    fs::write(path, new).map_err(|e| format!("write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_section() {
        let (b, e) = markers("chaos");
        let text = format!("intro\n{b}\nold\n{e}\noutro\n");
        let new = replace_section(&text, "chaos", "new table\n").unwrap();
        assert_eq!(new, format!("intro\n{b}\nnew table\n{e}\noutro\n"));
        assert_eq!(
            replace_section(&new, "chaos", "x")
                .unwrap()
                .matches(&b)
                .count(),
            1
        );
        assert!(replace_section("nothing", "chaos", "x").is_none());
    }
}
