//! Walks the live schema: a valid document for every field of a root type,
//! with a variable of the declared type for each required argument, so a
//! test can prove a rule holds on every field, including ones added later.

use serde_json::{Map, Value, json};

use super::TestApp;

const INTROSPECTION: &str = "{ __schema {
    queryType { name } mutationType { name }
    types { name kind
        fields { name type { ...T } args { name type { ...T } } }
        inputFields { name type { ...T } }
        enumValues { name } } } }
    fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// One root field, ready to send.
pub struct FieldCall {
    /// The field's name.
    pub name: String,
    pub document: String,
    pub variables: Value,
}

pub struct Schema {
    types: Vec<Value>,
    query: String,
    mutation: String,
}

impl Schema {
    /// Introspects the app's schema (introspection is on in development).
    pub async fn of(app: &TestApp) -> Self {
        let (_, body) = app.graphql(INTROSPECTION, json!({})).await;
        let schema = &body["data"]["__schema"];
        assert!(schema.is_object(), "introspection failed: {body}");
        Self {
            types: schema["types"].as_array().expect("types").clone(),
            query: schema["queryType"]["name"]
                .as_str()
                .expect("query")
                .to_owned(),
            mutation: schema["mutationType"]["name"]
                .as_str()
                .expect("mutation")
                .to_owned(),
        }
    }

    fn named(&self, name: &str) -> &Value {
        self.types
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no type {name}"))
    }

    /// Every query field.
    pub fn queries(&self) -> Vec<FieldCall> {
        self.calls(&self.query, "query")
    }

    /// Every mutation field.
    pub fn mutations(&self) -> Vec<FieldCall> {
        self.calls(&self.mutation, "mutation")
    }

    fn calls(&self, root: &str, operation: &'static str) -> Vec<FieldCall> {
        let fields = self.named(root)["fields"].as_array().expect("fields");
        fields
            .iter()
            .map(|field| {
                let name = field["name"].as_str().expect("name").to_owned();
                let mut definitions = Vec::new();
                let mut arguments = Vec::new();
                let mut variables = Map::new();
                for arg in field["args"].as_array().expect("args") {
                    if arg["type"]["kind"] != "NON_NULL" {
                        continue;
                    }
                    let arg_name = arg["name"].as_str().expect("arg name");
                    definitions.push(format!("${arg_name}: {}", type_ref(&arg["type"])));
                    arguments.push(format!("{arg_name}: ${arg_name}"));
                    variables.insert(arg_name.to_owned(), self.sample(&arg["type"]));
                }
                let head = if definitions.is_empty() {
                    format!("{operation} Walk")
                } else {
                    format!("{operation} Walk({})", definitions.join(", "))
                };
                let call = if arguments.is_empty() {
                    name.clone()
                } else {
                    format!("{name}({})", arguments.join(", "))
                };
                let selection = match innermost(&field["type"])["kind"].as_str() {
                    Some("OBJECT" | "INTERFACE" | "UNION") => " { __typename }",
                    _ => "",
                };
                FieldCall {
                    name,
                    document: format!("{head} {{ {call}{selection} }}"),
                    variables: Value::Object(variables),
                }
            })
            .collect()
    }

    /// A well-typed value for an argument of type `ty`.
    fn sample(&self, ty: &Value) -> Value {
        match ty["kind"].as_str() {
            Some("NON_NULL") => self.sample(&ty["ofType"]),
            Some("LIST") => json!([self.sample(&ty["ofType"])]),
            Some("ENUM") => {
                let named = self.named(ty["name"].as_str().expect("enum name"));
                named["enumValues"][0]["name"].clone()
            }
            Some("INPUT_OBJECT") => {
                let named = self.named(ty["name"].as_str().expect("input name"));
                let mut object = Map::new();
                for field in named["inputFields"].as_array().expect("input fields") {
                    if field["type"]["kind"] == "NON_NULL" {
                        let name = field["name"].as_str().expect("field name");
                        object.insert(name.to_owned(), self.sample(&field["type"]));
                    }
                }
                Value::Object(object)
            }
            _ => match ty["name"].as_str() {
                Some("Int") => json!(1),
                Some("Float") => json!(1.5),
                Some("Boolean") => json!(true),
                Some("DateTime") => json!("2026-01-01T00:00:00Z"),
                // Base64url of "User:" and a random id: well formed, names
                // nothing.
                Some("ID") => json!("VXNlcjowMTliMDAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDA"),
                Some("Upload") => Value::Null,
                _ => json!("walk"),
            },
        }
    }
}

fn innermost(ty: &Value) -> &Value {
    if ty["ofType"].is_object() {
        innermost(&ty["ofType"])
    } else {
        ty
    }
}

/// `[ID!]!` and the like, from an introspected type.
fn type_ref(ty: &Value) -> String {
    match ty["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_ref(&ty["ofType"])),
        Some("LIST") => format!("[{}]", type_ref(&ty["ofType"])),
        _ => ty["name"].as_str().expect("type name").to_owned(),
    }
}
