//! Labels files: one label per line, either `name` (the line number is the id) or `id name`.

use std::collections::BTreeMap;
use std::path::Path;

use super::DetectorError;

/// Label names by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels(BTreeMap<u32, String>);

impl Labels {
    pub fn parse(text: &str) -> Self {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let numbered = !lines.is_empty()
            && lines.iter().all(|l| {
                l.split_once(char::is_whitespace)
                    .is_some_and(|(id, _)| id.parse::<u32>().is_ok())
            });
        Labels(
            lines
                .iter()
                .enumerate()
                .map(|(i, l)| match l.split_once(char::is_whitespace) {
                    Some((id, name)) if numbered => {
                        (id.parse().unwrap_or(i as u32), name.trim().to_owned())
                    }
                    _ => (i as u32, (*l).to_owned()),
                })
                .collect(),
        )
    }

    /// A first label `???` or `background` names the background class, which detections never
    /// carry (the models skip it): it is dropped and the other ids move down by one.
    fn without_background(self) -> Self {
        match self.0.get(&0).map(|n| n.to_ascii_lowercase()) {
            Some(n) if n == "???" || n == "background" => Labels(
                self.0
                    .into_iter()
                    .filter(|(id, _)| *id > 0)
                    .map(|(id, n)| (id - 1, n))
                    .collect(),
            ),
            _ => self,
        }
    }

    pub fn load(path: &Path) -> Result<Self, DetectorError> {
        let text = std::fs::read_to_string(path).map_err(|e| DetectorError::Labels {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_text(&text, &path.display().to_string())
    }

    /// A labels file's text; `source` names it in the error.
    pub fn from_text(text: &str, source: &str) -> Result<Self, DetectorError> {
        let labels = Self::parse(text).without_background();
        if labels.0.is_empty() {
            return Err(DetectorError::Labels {
                path: source.to_owned(),
                reason: "no labels in it".into(),
            });
        }
        Ok(labels)
    }

    pub fn from_names(names: impl IntoIterator<Item = (u32, String)>) -> Self {
        Labels(names.into_iter().collect())
    }

    pub fn name(&self, id: u32) -> Option<&str> {
        self.0.get(&id).map(String::as_str)
    }

    /// The ids of the named classes (names, or numeric ids).
    pub fn ids(&self, names: &[String]) -> Result<Vec<u32>, DetectorError> {
        names
            .iter()
            .map(|n| {
                self.0
                    .iter()
                    .find(|(_, v)| v.eq_ignore_ascii_case(n))
                    .map(|(k, _)| *k)
                    .or_else(|| n.parse().ok())
                    .ok_or_else(|| DetectorError::UnknownClass(n.clone()))
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The highest id plus one.
    pub fn max_id(&self) -> Option<u32> {
        self.0.keys().next_back().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_and_plain_files() {
        let coco = Labels::parse("0  person\n1  bicycle\n\n87  teddy bear\n");
        assert_eq!(coco.name(87), Some("teddy bear"));
        assert_eq!(
            coco.ids(&["person".into(), "Teddy Bear".into()])
                .expect("known"),
            vec![0, 87]
        );
        let plain = Labels::parse("sack\ncarton\n");
        assert_eq!(plain.ids(&["carton".into()]).expect("known"), vec![1]);
        assert!(matches!(
            plain.ids(&["pallet".into()]),
            Err(DetectorError::UnknownClass(_))
        ));
        assert_eq!(plain.ids(&["0".into()]).expect("numeric id"), vec![0]);
    }

    #[test]
    fn a_background_first_label_is_dropped() {
        let l = Labels::parse("???\nBicycle\nPerson\n").without_background();
        assert_eq!(l.ids(&["Person".into()]).expect("known"), vec![1]);
        assert_eq!(l.name(0), Some("Bicycle"));
        let coco = Labels::parse("0 person\n1 bicycle\n").without_background();
        assert_eq!(
            coco.name(0),
            Some("person"),
            "no background line: unchanged"
        );
    }
}
