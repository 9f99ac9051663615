//! Files packed inside a model (a zip appended to the `.tflite`): the labels file its TFLite
//! metadata names, or Ultralytics' `metadata.json`, so a model can bring its own class names.

use std::io::{Cursor, Read};

use super::labels::Labels;

/// Larger packed files are not labels or metadata; they are refused rather than inflated.
const MAX_FILE: u64 = 4 << 20;

/// The packed file `name`, if the model carries one.
pub fn file(model: &[u8], name: &str) -> Result<Option<Vec<u8>>, String> {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(model)) else {
        return Ok(None);
    };
    let Ok(entry) = zip.by_name(name) else {
        return Ok(None);
    };
    if entry.size() > MAX_FILE {
        return Err(format!("packed file {name} is {} bytes", entry.size()));
    }
    let mut bytes = Vec::new();
    entry
        .take(MAX_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("packed file {name}: {e}"))?;
    Ok(Some(bytes))
}

/// What an Ultralytics export says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Ultralytics {
    /// `detect`, `segment`, `pose`, `obb`, `classify`.
    pub task: Option<String>,
    pub names: Labels,
}

/// Ultralytics' `metadata.json`, if the model carries one.
pub fn ultralytics(model: &[u8]) -> Result<Option<Ultralytics>, String> {
    let Some(bytes) = file(model, "metadata.json")? else {
        return Ok(None);
    };
    let meta: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("packed metadata.json is not JSON: {e}"))?;
    let names = match &meta["names"] {
        serde_json::Value::Object(m) => m
            .iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.to_owned())))
            .collect(),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((i as u32, v.as_str()?.to_owned())))
            .collect(),
        _ => Vec::new(),
    };
    Ok(Some(Ultralytics {
        task: meta["task"].as_str().map(str::to_owned),
        names: Labels::from_names(names),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_without_a_zip_has_no_packed_files() {
        assert_eq!(file(b"TFL3 not a zip", "labelmap.txt"), Ok(None));
        assert_eq!(ultralytics(&[0u8; 100]), Ok(None));
    }
}
