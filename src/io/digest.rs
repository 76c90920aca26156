//! The SHA-256 digest of a file's content, read without moving the file's offset (so that a
//! reader sharing the handle is not disturbed).

use super::read_at;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io;

/// `sha256:` and the hex digest of everything in `file`.
pub fn sha256(file: &File) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let read = read_at(file, &mut buffer, at)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        at += read as u64;
    }
    Ok(format!("sha256:{}", hex(&hasher.finalize())))
}

/// `sha256:` and the hex digest of `bytes`, as [`sha256`] gives it for a file holding them.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn the_digest_is_sha256_and_leaves_the_offset_alone() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"abc").unwrap();
        file.seek(SeekFrom::Start(1)).unwrap();
        assert_eq!(
            sha256(&file).unwrap(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(file.stream_position().unwrap(), 1);
    }
}
