//! Field errors as the GraphQL spec handles them ("Handling Field Errors"):
//! a field that errors is `null`, and when its type is non-null the `null`
//! moves up to the nearest nullable parent (or `data` itself).
//!
//! async-graphql (7.x) instead leaves an erroring field out of its parent
//! object, nullable or not: the response then has objects missing fields
//! the client asked for, which normalized caches (Apollo's, urql's) read
//! as malformed. This puts the response right afterwards, from the paths of
//! its errors, the document's selections and the schema's field types. It
//! runs only for responses that carry field errors.

use std::collections::HashMap;

use async_graphql::{
    Name, PathSegment, Response, Value,
    parser::{
        parse_schema,
        types::{
            BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection,
            SelectionSet, Type, TypeKind, TypeSystemDefinition,
        },
    },
};

/// Every object and interface type's fields and their types, by name.
#[derive(Default)]
pub(super) struct FieldTypes(HashMap<Name, HashMap<Name, Type>>);

impl FieldTypes {
    /// From the schema's SDL; an SDL that does not parse gives no types
    /// (and responses are then left as they are).
    pub(super) fn from_sdl(sdl: &str) -> Self {
        let Ok(document) = parse_schema(sdl) else {
            return Self::default();
        };
        let mut types = HashMap::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let definition = definition.node;
            let fields = match definition.kind {
                TypeKind::Object(object) => object.fields,
                TypeKind::Interface(interface) => interface.fields,
                _ => continue,
            };
            let fields = fields
                .into_iter()
                .map(|f| (f.node.name.node, f.node.ty.node))
                .collect();
            types.insert(definition.name.node, fields);
        }
        Self(types)
    }

    /// The declared type at each position of `path` (`types[i]` for
    /// `path[..=i]`), following the document's selections from the root.
    fn along(
        &self,
        document: &ExecutableDocument,
        root: (&str, &SelectionSet),
        path: &[PathSegment],
    ) -> Option<Vec<Type>> {
        let mut sets: Vec<(&SelectionSet, &str)> = vec![(root.1, root.0)];
        let mut types: Vec<Type> = Vec::with_capacity(path.len());
        for segment in path {
            let ty = match segment {
                PathSegment::Field(key) => {
                    let mut matches = Vec::new();
                    for (set, owner) in &sets {
                        collect(document, set, owner, key, &mut matches);
                    }
                    let (field, owner, _) = matches.first()?;
                    let declared = self.0.get(*owner)?.get(field.as_str())?;
                    let named = named(declared);
                    // The same key may be selected several times; their
                    // selections merge.
                    sets = matches.iter().map(|(_, _, set)| (*set, named)).collect();
                    declared.clone()
                }
                PathSegment::Index(_) => match &types.last()?.base {
                    BaseType::List(item) => (**item).clone(),
                    BaseType::Named(_) => return None,
                },
            };
            types.push(ty);
        }
        Some(types)
    }
}

/// The innermost named type of a (list) type.
fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(item) => named(item),
    }
}

/// The fields selected under response key `key` in `set` (through
/// fragments): each one's name, the type it is selected on, and its own
/// selections.
fn collect<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    owner: &'a str,
    key: &str,
    out: &mut Vec<(&'a Name, &'a str, &'a SelectionSet)>,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) if field.node.response_key().node.as_str() == key => {
                out.push((&field.node.name.node, owner, &field.node.selection_set.node));
            }
            Selection::Field(_) => {}
            Selection::InlineFragment(fragment) => {
                let on = fragment
                    .node
                    .type_condition
                    .as_ref()
                    .map_or(owner, |c| c.node.on.node.as_str());
                collect(document, &fragment.node.selection_set.node, on, key, out);
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    let on = fragment.node.type_condition.node.on.node.as_str();
                    collect(document, &fragment.node.selection_set.node, on, key, out);
                }
            }
        }
    }
}

/// Rewrites `response.data` so every errored field is `null`, and nulls
/// propagate up through non-null positions as the spec requires.
/// `operation` names the executed operation (`None`: the document's only
/// one).
pub(super) fn propagate(
    types: &FieldTypes,
    document: &ExecutableDocument,
    operation: Option<&str>,
    response: &mut Response,
) {
    let Some((kind, selection_set)) = find_operation(document, operation) else {
        return;
    };
    let root = match kind {
        OperationType::Query => "Query",
        OperationType::Mutation => "Mutation",
        OperationType::Subscription => "Subscription",
    };
    let errors: Vec<(Vec<PathSegment>, Vec<Type>)> = response
        .errors
        .iter()
        .filter(|e| !e.path.is_empty())
        .filter_map(|e| {
            let types = types.along(document, (root, selection_set), &e.path)?;
            Some((e.path.clone(), types))
        })
        .collect();
    if errors.is_empty() {
        return;
    }
    // First every errored field is put back as `null` (async-graphql left
    // it out, and left an object all of whose fields failed as `null`)...
    for (path, _) in &errors {
        materialize(&mut response.data, path);
    }
    // ...then each non-null one hands its `null` up.
    for (path, types) in &errors {
        let mut at = path.len();
        while at > 0 && !types[at - 1].nullable {
            at -= 1;
        }
        if at == 0 {
            response.data = Value::Null;
            return;
        }
        if let Some(slot) = slot(&mut response.data, &path[..at]) {
            *slot = Value::Null;
        }
    }
}

fn find_operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<(OperationType, &'a SelectionSet)> {
    let operation = match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    Some((operation.node.ty, &operation.node.selection_set.node))
}

/// Makes `path` exist in `data`, creating the objects on the way that
/// async-graphql turned into `null` because all their fields failed, and
/// sets the last field to `null` unless it has a value.
fn materialize(data: &mut Value, path: &[PathSegment]) {
    let mut at = data;
    for segment in path {
        at = match segment {
            PathSegment::Field(key) => {
                if *at == Value::Null {
                    *at = Value::Object(Default::default());
                }
                let Value::Object(object) = at else { return };
                object.entry(Name::new(key)).or_insert(Value::Null)
            }
            PathSegment::Index(index) => match at {
                Value::List(items) => match items.get_mut(*index) {
                    Some(item) => item,
                    None => return,
                },
                _ => return,
            },
        };
    }
}

/// The value at `path`, unless a `null` (or a missing value) is on the way.
fn slot<'a>(data: &'a mut Value, path: &[PathSegment]) -> Option<&'a mut Value> {
    let mut at = data;
    for segment in path {
        at = match (segment, at) {
            (PathSegment::Field(key), Value::Object(object)) => object.get_mut(key.as_str())?,
            (PathSegment::Index(index), Value::List(items)) => items.get_mut(*index)?,
            _ => return None,
        };
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use async_graphql::{ServerError, parser::parse_query};
    use serde_json::json;

    use super::*;

    const SDL: &str = "
        type Query { post(id: ID!): Post, posts: PostConnection!, me: Account }
        type Account { name: String!, email: String }
        type PostConnection { edges: [PostEdge!]! }
        type PostEdge { node: Post! }
        interface Node { id: ID! }
        type Post implements Node { id: ID!, body: String!, author: User, comments(first: Int): [String!]! }
        type User implements Node { id: ID!, name: String! }
    ";

    fn run(query: &str, data: serde_json::Value, paths: &[&[&str]]) -> serde_json::Value {
        let types = FieldTypes::from_sdl(SDL);
        let document = parse_query(query).unwrap();
        let mut response = Response::new(Value::from_json(data).unwrap());
        for path in paths {
            let mut error = ServerError::new("boom", None);
            error.path = path
                .iter()
                .map(|p| match p.parse::<usize>() {
                    Ok(i) => PathSegment::Index(i),
                    Err(_) => PathSegment::Field((*p).to_owned()),
                })
                .collect();
            response.errors.push(error);
        }
        propagate(&types, &document, None, &mut response);
        response.data.into_json().unwrap()
    }

    #[test]
    fn a_failed_nullable_field_is_null() {
        let data = run(
            "{ post(id: 1) { id } posts { edges { node { id } } } }",
            json!({ "posts": { "edges": [] } }),
            &[&["post"]],
        );
        assert_eq!(data, json!({ "posts": { "edges": [] }, "post": null }));
    }

    #[test]
    fn a_failed_non_null_field_nulls_its_nearest_nullable_parent() {
        let data = run(
            "{ post(id: 1) { id comments(first: 1000) } me { name } }",
            json!({ "post": { "id": "p" }, "me": { "name": "ann" } }),
            &[&["post", "comments"]],
        );
        assert_eq!(data, json!({ "post": null, "me": { "name": "ann" } }));
    }

    #[test]
    fn through_lists_and_fragments_up_to_data() {
        let query = "query Q { posts { edges { node { ...F } } } }
            fragment F on Post { id c: comments(first: 1000) }";
        let data = run(
            query,
            json!({ "posts": { "edges": [{ "node": { "id": "p" } }] } }),
            &[&["posts", "edges", "0", "node", "c"]],
        );
        assert_eq!(data, json!(null));
    }

    #[test]
    fn an_object_whose_fields_all_failed_gets_them_back_as_null() {
        let data = run(
            "{ me { email } }",
            json!({ "me": null }),
            &[&["me", "email"]],
        );
        assert_eq!(data, json!({ "me": { "email": null } }));
        let data = run(
            "{ node: post(id: 1) { ... on Node { id } author { name } } }",
            json!({ "node": { "id": "p", "author": null } }),
            &[&["node", "author", "name"]],
        );
        assert_eq!(data, json!({ "node": { "id": "p", "author": null } }));
    }
}
