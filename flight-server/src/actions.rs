//! `do_action`: metadata calls with JSON bodies, each answered by one JSON result.
//!
//! Ids may be given as `o...` text or as integers; replies give them as `o...` text.

use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};
use vineyard_core::{InstanceStatus, IpcClient, ObjectID, ObjectMeta};

use crate::error::{Error, Result};
use crate::target::Target;

/// Every action with a one-line description, as `list_actions` reports them.
pub const ACTIONS: &[(&str, &str)] = &[
    (
        "get_meta",
        r#"{"id"} or {"name"}: the object's metadata tree as JSON"#,
    ),
    (
        "get_metas",
        r#"{"ids": [...]}: the metadata trees of several objects, in order"#,
    ),
    (
        "create_metadata",
        r#"{"tree": {...}}: creates an object whose members exist already; its tree, with "id""#,
    ),
    ("exists", r#"{"id"}: {"exists": true | false}"#),
    (
        "cluster",
        "the live instances of the cluster: {\"i<id>\": {hostid, ipc_socket, rpc_endpoint, ...}}",
    ),
    ("clear", "deletes every object and blob of the instance"),
    (
        "list",
        r#"{"pattern": "*", "regex": false, "limit": 5}: metadata trees of objects whose typename matches"#,
    ),
    (
        "list_names",
        r#"{"pattern": "*", "regex": false, "limit": 5}: {name: id} of names that match"#,
    ),
    (
        "delete",
        r#"{"ids": [...], "force": false, "deep": true}: deletes objects; {"deleted": [ids]}"#,
    ),
    ("persist", r#"{"id"}: publishes the object to the cluster"#),
    ("put_name", r#"{"id", "name"}: names a persisted object"#),
    ("get_name", r#"{"name"}: {"id"} the name points at"#),
    ("drop_name", r#"{"name"}: removes the name"#),
    (
        "status",
        "the instance's memory and connection figures and its endpoints",
    ),
    (
        "debug",
        r#"{"debug": {...}}: the instance's debug command (echoes it; {"raise": code} fails with that status code)"#,
    ),
];

/// One `do_action` call, decoded from its type and JSON body.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The metadata tree of an object.
    GetMeta {
        /// By id ...
        #[serde(default, deserialize_with = "optional_id")]
        id: Option<ObjectID>,
        /// ... or by name.
        #[serde(default)]
        name: Option<String>,
    },
    /// The metadata trees of several objects.
    GetMetas {
        /// The objects.
        #[serde(deserialize_with = "ids")]
        ids: Vec<ObjectID>,
    },
    /// Creates an object from its tree (members must exist).
    CreateMetadata {
        /// The tree.
        tree: Map<String, Value>,
    },
    /// Whether an object exists.
    Exists {
        /// The object.
        #[serde(deserialize_with = "id")]
        id: ObjectID,
    },
    /// The live instances of the cluster.
    Cluster,
    /// Deletes every object and blob of the instance.
    Clear,
    /// Metadata trees of objects whose typename matches.
    List {
        /// Glob (or regex) over typenames.
        #[serde(default = "any")]
        pattern: String,
        /// `pattern` is a regex.
        #[serde(default)]
        regex: bool,
        /// At most this many.
        #[serde(default = "five")]
        limit: usize,
    },
    /// Names that match, with their ids.
    ListNames {
        /// Glob (or regex) over names.
        #[serde(default = "any")]
        pattern: String,
        /// `pattern` is a regex.
        #[serde(default)]
        regex: bool,
        /// At most this many.
        #[serde(default = "five")]
        limit: usize,
    },
    /// Deletes objects.
    Delete {
        /// The objects.
        #[serde(deserialize_with = "ids")]
        ids: Vec<ObjectID>,
        /// Also delete objects that use them.
        #[serde(default)]
        force: bool,
        /// Also delete members no other object uses.
        #[serde(default = "yes")]
        deep: bool,
    },
    /// Publishes an object to the cluster.
    Persist {
        /// The object.
        #[serde(deserialize_with = "id")]
        id: ObjectID,
    },
    /// Names a persisted object.
    PutName {
        /// The object.
        #[serde(deserialize_with = "id")]
        id: ObjectID,
        /// The name.
        name: String,
    },
    /// The id a name points at.
    GetName {
        /// The name.
        name: String,
    },
    /// Removes a name.
    DropName {
        /// The name.
        name: String,
    },
    /// Memory and connection figures.
    Status,
    /// The instance's debug command.
    Debug {
        /// The command, passed on as it is.
        #[serde(default)]
        debug: Value,
    },
}

fn any() -> String {
    "*".into()
}

fn five() -> usize {
    5
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IdValue {
    Text(String),
    Number(u64),
}

impl IdValue {
    fn into_id<E: serde::de::Error>(self) -> Result<ObjectID, E> {
        match self {
            IdValue::Number(number) => Ok(ObjectID(number)),
            IdValue::Text(text) => text.parse().map_err(E::custom),
        }
    }
}

fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectID, D::Error> {
    IdValue::deserialize(deserializer)?.into_id()
}

fn optional_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<ObjectID>, D::Error> {
    Option::<IdValue>::deserialize(deserializer)?
        .map(IdValue::into_id)
        .transpose()
}

fn ids<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<ObjectID>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<IdValue>),
        One(IdValue),
    }
    match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Many(values) => values.into_iter().map(IdValue::into_id).collect(),
        OneOrMany::One(value) => Ok(vec![value.into_id()?]),
    }
}

impl Action {
    /// Decodes an action from its type and body (a JSON object; empty means `{}`).
    pub fn parse(kind: &str, body: &[u8]) -> Result<Action> {
        if !ACTIONS.iter().any(|(name, _)| *name == kind) {
            let known: Vec<&str> = ACTIONS.iter().map(|(name, _)| *name).collect();
            return Err(Error::invalid(format!(
                "unknown action `{kind}`; the actions are {}",
                known.join(", ")
            )));
        }
        let mut fields = if body.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice(body) {
                Ok(Value::Object(fields)) => fields,
                Ok(other) => {
                    return Err(Error::invalid(format!(
                        "the body of action `{kind}` must be a JSON object, got {other}"
                    )))
                }
                Err(error) => {
                    return Err(Error::invalid(format!(
                        "the body of action `{kind}` is not JSON: {error}"
                    )))
                }
            }
        };
        fields.insert("action".into(), Value::from(kind));
        serde_json::from_value(Value::Object(fields))
            .map_err(|error| Error::invalid(format!("malformed body for action `{kind}`: {error}")))
    }

    /// Runs the action against the instance; returns the JSON result.
    pub fn run(self, client: &IpcClient) -> Result<Value> {
        Ok(match self {
            Action::GetMeta { id, name } => {
                let target = match (id, name) {
                    (Some(id), _) => Target::Id(id),
                    (None, Some(name)) => Target::parse(&name)?,
                    (None, None) => {
                        return Err(Error::invalid(
                            "action `get_meta` needs {\"id\": ...} or {\"name\": ...}",
                        ))
                    }
                };
                let id = target.resolve_id(client)?;
                Value::Object(client.get_metadata(id)?.into_map())
            }
            Action::GetMetas { ids } => Value::Array(
                client
                    .get_metadatas(&ids)?
                    .into_iter()
                    .map(|meta| Value::Object(meta.into_map()))
                    .collect(),
            ),
            Action::CreateMetadata { tree } => {
                let created =
                    client.create_metadata(&ObjectMeta::from_json(Value::Object(tree))?)?;
                Value::Object(created.into_map())
            }
            Action::Exists { id } => json!({"exists": client.exists(id)?}),
            Action::Cluster => serde_json::to_value(client.cluster_info()?)
                .expect("the cluster's instances serialise"),
            Action::Clear => {
                client.clear()?;
                crate::heap::trim_after(usize::MAX);
                json!({})
            }
            Action::List {
                pattern,
                regex,
                limit,
            } => Value::Array(
                client
                    .list_metadatas(&pattern, regex, limit)?
                    .into_iter()
                    .map(|meta| Value::Object(meta.into_map()))
                    .collect(),
            ),
            Action::ListNames {
                pattern,
                regex,
                limit,
            } => Value::Object(
                client
                    .list_names(&pattern, regex, limit)?
                    .into_iter()
                    .map(|(name, id)| (name, Value::from(id.to_string())))
                    .collect(),
            ),
            Action::Delete { ids, force, deep } => {
                let deleted = client.delete(&ids, force, deep)?;
                crate::heap::trim_after(deleted.len());
                json!({"deleted": deleted.iter().map(ToString::to_string).collect::<Vec<_>>()})
            }
            Action::Persist { id } => {
                client.persist(id)?;
                json!({"id": id.to_string()})
            }
            Action::PutName { id, name } => {
                client.put_name(id, &name)?;
                json!({"id": id.to_string(), "name": name})
            }
            Action::GetName { name } => {
                let id = Target::Name(name.clone()).resolve_id(client)?;
                json!({"id": id.to_string(), "name": name})
            }
            Action::DropName { name } => {
                client.drop_name(&name)?;
                json!({"name": name})
            }
            Action::Debug { debug } => client.debug(debug)?,
            Action::Status => {
                let status = FlightStatus {
                    status: client.status()?,
                    ipc_socket: client.socket().display().to_string(),
                    rpc_endpoint: client.rpc_endpoint().to_string(),
                };
                serde_json::to_value(status).expect("a status serialises")
            }
        })
    }
}

/// The `status` action's body: the instance's status and where to reach it.
#[derive(serde::Serialize)]
struct FlightStatus {
    #[serde(flatten)]
    status: InstanceStatus,
    ipc_socket: String,
    rpc_endpoint: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bodies() {
        assert_eq!(
            Action::parse("get_meta", br#"{"id": "o0000000000000010"}"#).unwrap(),
            Action::GetMeta {
                id: Some(ObjectID(16)),
                name: None
            }
        );
        assert_eq!(
            Action::parse("delete", br#"{"ids": [16, "o0000000000000011"]}"#).unwrap(),
            Action::Delete {
                ids: vec![ObjectID(16), ObjectID(17)],
                force: false,
                deep: true
            }
        );
        assert_eq!(
            Action::parse("list", b"").unwrap(),
            Action::List {
                pattern: "*".into(),
                regex: false,
                limit: 5
            }
        );
        assert_eq!(Action::parse("status", b" ").unwrap(), Action::Status);
    }

    #[test]
    fn rejects_clearly() {
        let unknown = Action::parse("explode", b"").unwrap_err().to_string();
        assert!(unknown.contains("unknown action `explode`"), "{unknown}");
        let not_json = Action::parse("persist", b"{").unwrap_err().to_string();
        assert!(not_json.contains("not JSON"), "{not_json}");
        let missing = Action::parse("persist", b"{}").unwrap_err().to_string();
        assert!(missing.contains("missing field `id`"), "{missing}");
        let bad_id = Action::parse("persist", br#"{"id": "zz"}"#)
            .unwrap_err()
            .to_string();
        assert!(bad_id.contains("not an object id"), "{bad_id}");
    }
}
