//! The product's dimension list, read from the file the derive's `catalog = "..."` names
//! (the reading itself, shared with the command line, is `metering_rules::catalog`).

use std::path::{Path, PathBuf};

use metering_rules::catalog::Catalog;

/// Reads the dimensions listed in the file at `relative`, a path relative to the crate's
/// directory (`manifest_dir`) and to nothing else; returns the file's full path and them.
pub(crate) fn read(manifest_dir: &Path, relative: &str) -> Result<(PathBuf, Catalog), String> {
    let path = manifest_dir.join(relative);
    if !path.is_file() {
        return Err(format!(
            "cannot find the catalog file `{relative}`: a catalog path is relative to the \
             crate's directory (where its Cargo.toml is), and looked up nowhere else"
        ));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("cannot read the catalog file `{relative}`: {error}"))?;
    let catalog = Catalog::parse_file(&text, relative)?;
    Ok((path, catalog))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_crate_directory_is_searched() {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        // `src/lib.rs` exists beside this crate's manifest, `Cargo.toml` above the
        // workspace's members: a path is not looked up in a parent directory.
        assert!(
            read(crate_dir, "src/no-such.json")
                .unwrap_err()
                .contains("cannot find")
        );
        let parent_only = "Cargo.lock";
        assert!(crate_dir.parent().unwrap().join(parent_only).is_file());
        assert!(
            read(crate_dir, parent_only)
                .unwrap_err()
                .contains("cannot find")
        );
    }
}
