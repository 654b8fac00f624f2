//! Every definition under a folder, several versions side by side, each
//! checked against `definitions.lock`: a released version whose file
//! changed is refused. Versions not yet in the lock load as drafts;
//! [`release`] records them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::definition::{AgentDefinition, DefinitionError, Version};

pub const LOCK_FILE: &str = "definitions.lock";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Released {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LockFile {
    #[serde(default)]
    released: Vec<Released>,
}

#[derive(Debug, Clone)]
pub struct LoadedDefinition {
    pub definition: Arc<AgentDefinition>,
    pub path: PathBuf,
    /// In `definitions.lock` (immutable) rather than a draft.
    pub released: bool,
}

#[derive(Debug, Clone, Default)]
pub struct DefinitionRegistry {
    definitions: BTreeMap<(String, Version), LoadedDefinition>,
}

fn read_lock(dir: &Path) -> Result<LockFile, DefinitionError> {
    let path = dir.join(LOCK_FILE);
    if !path.exists() {
        return Ok(LockFile::default());
    }
    let error = |message: String| DefinitionError { source_name: path.display().to_string(), message };
    let text = std::fs::read_to_string(&path).map_err(|e| error(e.to_string()))?;
    toml::from_str(&text).map_err(|e| error(format!("not a valid lock file: {}", e.to_string().trim_end())))
}

fn definition_files(dir: &Path) -> Result<Vec<PathBuf>, DefinitionError> {
    let error = |path: &Path, e: std::io::Error| DefinitionError {
        source_name: path.display().to_string(),
        message: e.to_string(),
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| error(dir, e))? {
        let folder = entry.map_err(|e| error(dir, e))?.path();
        if !folder.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&folder).map_err(|e| error(&folder, e))? {
            let path = file.map_err(|e| error(&folder, e))?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

impl DefinitionRegistry {
    /// Load every `<name>/<version>.toml` under `dir`. All problems are
    /// reported together.
    pub fn load(dir: &Path) -> Result<Self, Vec<DefinitionError>> {
        let lock = read_lock(dir).map_err(|e| vec![e])?;
        let files = definition_files(dir).map_err(|e| vec![e])?;
        let mut registry = Self::default();
        let mut errors = Vec::new();
        for path in files {
            match load_file(&path, &lock) {
                Ok(loaded) => {
                    let key = (loaded.definition.name.clone(), loaded.definition.parsed_version().expect("validated"));
                    registry.definitions.insert(key, loaded);
                }
                Err(error) => errors.push(error),
            }
        }
        if errors.is_empty() { Ok(registry) } else { Err(errors) }
    }

    pub fn get(&self, name: &str, version: &str) -> Option<Arc<AgentDefinition>> {
        let version = Version::parse(version).ok()?;
        self.definitions.get(&(name.to_string(), version)).map(|l| l.definition.clone())
    }

    /// The highest released version of `name`.
    pub fn latest(&self, name: &str) -> Option<Arc<AgentDefinition>> {
        self.definitions
            .iter()
            .rev()
            .find(|((n, _), loaded)| n == name && loaded.released)
            .map(|(_, loaded)| loaded.definition.clone())
    }

    pub fn all(&self) -> impl Iterator<Item = &LoadedDefinition> {
        self.definitions.values()
    }

    /// The definitions compiled into the binary (every released version
    /// under `agent/definitions/`), checked against the lock compiled in
    /// beside them, so a version can be chosen with nothing on disk.
    pub fn embedded() -> Result<Self, Vec<DefinitionError>> {
        let lock: LockFile = toml::from_str(super::embedded::LOCK).map_err(|e| {
            vec![DefinitionError { source_name: LOCK_FILE.into(), message: e.to_string().trim_end().into() }]
        })?;
        let mut registry = Self::default();
        let mut errors = Vec::new();
        for (path, text) in super::embedded::FILES {
            match load_text(text, Path::new(path), &lock) {
                Ok(loaded) if loaded.released => {
                    let key = (loaded.definition.name.clone(), loaded.definition.parsed_version().expect("validated"));
                    registry.definitions.insert(key, loaded);
                }
                Ok(loaded) => errors.push(DefinitionError {
                    source_name: (*path).into(),
                    message: format!("{} is compiled in but not released", loaded.definition.id()),
                }),
                Err(error) => errors.push(error),
            }
        }
        if errors.is_empty() { Ok(registry) } else { Err(errors) }
    }

    /// `name@version`, or `name` for its latest released version; the
    /// error lists what there is.
    pub fn select(&self, id: &str) -> Result<Arc<AgentDefinition>, String> {
        let (name, version) = match id.split_once('@') {
            Some((name, version)) => (name, Some(version)),
            None => (id, None),
        };
        let found = match version {
            Some(version) => self.get(name, version),
            None => self.latest(name),
        };
        found.ok_or_else(|| {
            let known: Vec<String> = self.all().map(|l| l.definition.id()).collect();
            format!("no agent definition {id:?}; there are: {}", known.join(", "))
        })
    }
}

fn load_file(path: &Path, lock: &LockFile) -> Result<LoadedDefinition, DefinitionError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| DefinitionError { source_name: name.clone(), message: e.to_string() })?;
    load_text(&text, path, lock)
}

/// One definition file's text, checked against its place (`<name>/<version>.toml`)
/// and the lock.
fn load_text(text: &str, path: &Path, lock: &LockFile) -> Result<LoadedDefinition, DefinitionError> {
    let name = path.display().to_string();
    let error = |message: String| DefinitionError { source_name: name.clone(), message };
    let definition = AgentDefinition::parse(text, &name)?;
    let folder = path.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap_or_default();
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if folder != definition.name || stem != definition.version {
        return Err(error(format!(
            "defines {} but lives at {folder}/{stem}.toml (expected {}/{}.toml)",
            definition.id(),
            definition.name,
            definition.version
        )));
    }
    let released = lock.released.iter().find(|r| r.name == definition.name && r.version == definition.version);
    if let Some(released) = released
        && released.sha256 != definition.content_hash
    {
        return Err(error(format!(
            "{} was released with sha256 {} but the file now hashes to {}; released definitions are immutable, \
             so publish the change as a new version",
            definition.id(),
            released.sha256,
            definition.content_hash
        )));
    }
    Ok(LoadedDefinition { definition: Arc::new(definition), path: path.to_path_buf(), released: released.is_some() })
}

/// Record every draft under `dir` in the lock file; returns what was added.
/// Refuses (like [`DefinitionRegistry::load`]) if a released file changed.
pub fn release(dir: &Path) -> Result<Vec<Released>, Vec<DefinitionError>> {
    let registry = DefinitionRegistry::load(dir)?;
    let mut lock = read_lock(dir).map_err(|e| vec![e])?;
    let added: Vec<Released> = registry
        .all()
        .filter(|l| !l.released)
        .map(|l| Released {
            name: l.definition.name.clone(),
            version: l.definition.version.clone(),
            sha256: l.definition.content_hash.clone(),
        })
        .collect();
    lock.released.extend(added.iter().cloned());
    let path = dir.join(LOCK_FILE);
    let body = toml::to_string(&lock)
        .map_err(|e| vec![DefinitionError { source_name: path.display().to_string(), message: e.to_string() }])?;
    let text = format!("# Released agent definitions and the SHA-256 of their files. Append only.\n\n{body}");
    std::fs::write(&path, text)
        .map_err(|e| vec![DefinitionError { source_name: path.display().to_string(), message: e.to_string() }])?;
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_definitions() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions")
    }

    fn copy_definitions(to: &Path) {
        let from = project_definitions();
        std::fs::create_dir_all(to.join("support")).expect("mkdir");
        std::fs::copy(from.join("support/1.0.0.toml"), to.join("support/1.0.0.toml")).expect("copy");
        std::fs::copy(from.join(LOCK_FILE), to.join(LOCK_FILE)).expect("copy lock");
    }

    #[test]
    fn the_project_definitions_load_and_are_released() {
        let registry = DefinitionRegistry::load(&project_definitions()).expect("loads");
        let all: Vec<_> = registry.all().collect();
        assert!(all.iter().all(|l| l.released), "every committed definition is in definitions.lock");
        let built_in = registry.get("support", "1.1.0").expect("support@1.1.0 exists");
        assert_eq!(built_in.content_hash, AgentDefinition::reference().content_hash, "the built-in copy is the file");
    }

    #[test]
    fn a_released_definition_edited_in_place_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_definitions(dir.path());
        let file = dir.path().join("support/1.0.0.toml");
        let text = std::fs::read_to_string(&file).expect("read").replace("Answer briefly", "Answer at length");
        std::fs::write(&file, text).expect("edit");
        let errors = DefinitionRegistry::load(dir.path()).expect_err("edited in place");
        let message = errors[0].to_string();
        assert!(message.contains("support/1.0.0.toml") && message.contains("immutable"), "{message}");
        assert!(release(dir.path()).is_err(), "release refuses too");
    }

    #[test]
    fn new_versions_load_side_by_side_as_drafts_until_released() {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_definitions(dir.path());
        let text = std::fs::read_to_string(dir.path().join("support/1.0.0.toml"))
            .expect("read")
            .replace("version = \"1.0.0\"", "version = \"9.0.0\"")
            .replace("end_of_turn_ms = 700", "end_of_turn_ms = 600");
        std::fs::write(dir.path().join("support/9.0.0.toml"), text).expect("write");
        let registry = DefinitionRegistry::load(dir.path()).expect("loads");
        assert_eq!(registry.latest("support").expect("latest").version, "1.0.0", "drafts are not latest");
        assert!(registry.get("support", "9.0.0").is_some() && registry.get("support", "1.0.0").is_some());
        let added = release(dir.path()).expect("releases");
        assert_eq!(added.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(), ["9.0.0"]);
        let registry = DefinitionRegistry::load(dir.path()).expect("loads");
        assert_eq!(registry.latest("support").expect("latest").version, "9.0.0");
    }

    #[test]
    fn every_definition_on_disk_is_compiled_in_and_selectable() {
        let on_disk = DefinitionRegistry::load(&project_definitions()).expect("loads");
        let embedded = DefinitionRegistry::embedded().expect("the compiled-in definitions are released");
        let ids = |r: &DefinitionRegistry| r.all().map(|l| l.definition.id()).collect::<Vec<_>>();
        assert_eq!(ids(&embedded), ids(&on_disk), "add every new release to config/embedded.rs");
        for loaded in on_disk.all() {
            let id = loaded.definition.id();
            assert_eq!(embedded.select(&id).expect("selectable").content_hash, loaded.definition.content_hash);
        }
        assert_eq!(embedded.select("support").expect("latest").id(), on_disk.latest("support").expect("l").id());
        let error = embedded.select("support@9.9.9").expect_err("unknown");
        assert!(error.contains("support@9.9.9") && error.contains("support@1.1.0"), "{error}");
    }

    #[test]
    fn a_file_whose_name_does_not_match_its_version_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_definitions(dir.path());
        std::fs::rename(dir.path().join("support/1.0.0.toml"), dir.path().join("support/2.0.0.toml")).expect("rename");
        let errors = DefinitionRegistry::load(dir.path()).expect_err("mismatch");
        assert!(errors[0].to_string().contains("expected support/1.0.0.toml"), "{errors:?}");
    }
}
