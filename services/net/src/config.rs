//! What the layered configurations of the hub and the sidecar share: one order of layers,
//! one error, and the names of a config struct's fields, read from its `Deserialize`
//! derive, so that the keys an environment layer accepts are the struct's own and cannot
//! drift from it.

use std::{collections::BTreeMap, path::Path};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};

use serde::Serialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

/// Why a service refused its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The layers did not read or extract: bad TOML, a wrong type, an unknown key.
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// A value that reads but is not acceptable; `field` names it (`delivery.lease_ms`,
    /// `--config` for the file itself).
    #[error("configuration: {field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl ConfigError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The layers of a service's configuration, in the order every service reads them:
/// `base` (its defaults), then the TOML `file` when one is given, then `env`. A file that
/// is named but does not exist is an error (the message names it), not a silent default.
pub fn layers(base: Figment, file: Option<&Path>, env: Env) -> Result<Figment, ConfigError> {
    let mut fig = base;
    if let Some(f) = file {
        if !f.exists() {
            return Err(ConfigError::invalid(
                "--config",
                format!("config file {} does not exist", f.display()),
            ));
        }
        fig = fig.merge(Toml::file(f));
    }
    Ok(fig.merge(env))
}

/// The field names of the struct `T` as serde reads them (after `#[serde(rename)]`).
///
/// # Panics
///
/// When `T` is not deserialized as a struct (an enum, a map, or a struct with a
/// `#[serde(flatten)]` field, which serde reads as a map): a programming error that any
/// test loading the configuration shows.
pub fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields = None;
    // The probe always refuses; what matters is what it saw.
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields.unwrap_or_else(|| {
        panic!(
            "{} is not deserialized as a struct with named fields",
            std::any::type_name::<T>()
        )
    })
}

/// Every leaf of a serialized configuration by its dotted path (`delivery.batch_size`;
/// arrays are leaves): what the hub's and the sidecar's tests compare to show that every
/// key can be set from the environment.
///
/// # Panics
///
/// When `config` does not serialize to JSON (a programming error).
pub fn leaves<T: Serialize>(config: &T) -> BTreeMap<String, serde_json::Value> {
    fn walk(path: &str, v: &serde_json::Value, out: &mut BTreeMap<String, serde_json::Value>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(&p, v, out);
                }
            }
            _ => {
                out.insert(path.to_string(), v.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    let v = serde_json::to_value(config).expect("a configuration serializes to JSON");
    walk("", &v, &mut out);
    out
}

/// A deserializer that records the field list a struct's derive hands to
/// `deserialize_struct`, and refuses everything.
struct FieldProbe<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(de::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// The coordinator root keys a verifier pins: SPKI PEM files, each named by its
/// thumbprint. Refuses an empty list, an unreadable file and a key that is not Ed25519.
pub fn load_roots(
    field: &str,
    paths: &[std::path::PathBuf],
) -> Result<takedown_protocol::keyset::Roots, String> {
    if paths.is_empty() {
        return Err(format!(
            "{field} must name at least one coordinator root public key (PEM file)"
        ));
    }
    let mut pems = Vec::new();
    for p in paths {
        let pem = std::fs::read_to_string(p)
            .map_err(|e| format!("{field}: cannot read {}: {e}", p.display()))?;
        pems.push(pem);
    }
    takedown_protocol::keyset::Roots::from_pems(pems.iter().map(String::as_str))
        .map_err(|e| format!("{field}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        listen: String,
        #[serde(rename = "db")]
        database: String,
        #[serde(default)]
        nested: Option<Inner>,
    }

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        days: u32,
    }

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Flattened {
        #[serde(flatten)]
        inner: Inner,
    }

    #[test]
    fn fields_are_the_serde_names_in_declaration_order() {
        assert_eq!(struct_fields::<Sample>(), ["listen", "db", "nested"]);
        assert_eq!(struct_fields::<Inner>(), ["days"]);
    }

    #[test]
    #[should_panic(expected = "not deserialized as a struct")]
    fn a_flattened_struct_is_a_programming_error() {
        struct_fields::<Flattened>();
    }

    #[test]
    fn layers_read_defaults_then_the_file_and_refuse_a_missing_file() {
        let dir = std::env::temp_dir().join(format!("takedown-layers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("svc.toml");
        std::fs::write(&file, "a = 2\n").unwrap();
        let base = Figment::from(figment::providers::Serialized::defaults(
            serde_json::json!({ "a": 1, "c": 1 }),
        ));
        let none = || Env::raw().only(&["takedown_layers_test_unset"]);
        let got: BTreeMap<String, i64> = layers(base, Some(&file), none())
            .unwrap()
            .extract()
            .unwrap();
        assert_eq!((got["a"], got["c"]), (2, 1));
        let missing = dir.join("nope.toml");
        let e = layers(Figment::new(), Some(&missing), none())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("configuration: --config: "), "{e}");
        assert!(
            e.contains("nope.toml") && e.contains("does not exist"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
