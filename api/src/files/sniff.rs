//! What an upload really is, from its bytes: the content type by magic
//! numbers (the client's name and type are never trusted), and an image's
//! size from its header (nothing is decoded).

/// The content type of `bytes`, or `None` when it is nothing recognised.
/// Recognised binary formats come from their magic numbers; anything else
/// counts as `text/plain` when it is UTF-8 without control characters.
pub fn content_type(bytes: &[u8]) -> Option<&'static str> {
    if let Some(kind) = infer::get(bytes) {
        return Some(match kind.mime_type() {
            // One name per format, whatever the detector calls it.
            "image/heic" => "image/heif",
            other => other,
        });
    }
    is_plain_text(bytes).then_some("text/plain")
}

fn is_plain_text(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
}

/// Width and height of an image, read from its header.
pub fn dimensions(content_type: &str, bytes: &[u8]) -> Option<(i32, i32)> {
    if !content_type.starts_with("image/") {
        return None;
    }
    let size = imagesize::blob_size(bytes).ok()?;
    Some((
        i32::try_from(size.width).ok()?,
        i32::try_from(size.height).ok()?,
    ))
}

/// The client's file name, kept for display and `Content-Disposition`:
/// the last path segment, without control characters, at most 255
/// characters. Never used as a storage key.
pub fn original_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let clean = clean.trim();
    (!clean.is_empty() && clean != "." && clean != "..").then(|| clean.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_magic_numbers() {
        assert_eq!(
            content_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some("image/png")
        );
        assert_eq!(content_type(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(content_type(b"hello\nworld\n"), Some("text/plain"));
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(64, 0);
        assert!(matches!(
            content_type(&elf),
            None | Some("application/x-executable")
        ));
        assert_eq!(content_type(&[0, 1, 2, 3, 0xff, 0xfe]), None);
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(original_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(
            original_name("C:\\x\\photo.png").as_deref(),
            Some("photo.png")
        );
        assert_eq!(original_name("a\r\nb.txt").as_deref(), Some("ab.txt"));
        assert_eq!(original_name(".."), None);
    }
}
