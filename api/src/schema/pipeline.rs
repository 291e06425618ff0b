//! What the server does around every GraphQL execution, outside the schema:
//! parsing (through a cache), the alias and introspection limits, refusing
//! mutations from accounts that may not write, a stable `extensions.code`
//! on every error, the spec's null propagation for field errors, and the
//! operation metrics.
//!
//! The schema has no async-graphql extensions on purpose. With even one,
//! async-graphql resolves every field through the extension chain, a boxed
//! future per field per extension: that took about a third of the API's CPU
//! on a 20-post feed of ~1,000 fields (docs/benchmarks.md). Without them a field
//! is resolved directly.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
    time::Instant,
};

use async_graphql::{
    Request, Response, ServerError, Value,
    parser::{
        parse_query,
        types::{DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet},
    },
};
use lru::LruCache;

use super::limits::GraphqlLimits;
use super::nulls::{self, FieldTypes};
use crate::{auth::Viewer, db::Db, error::code, users::service::require_standing};

/// Parsed documents kept, by query text: clients send the same few
/// documents over and over, and cloning a parsed one is far cheaper than
/// parsing it again.
const CACHED_DOCUMENTS: usize = 256;
/// Longer documents are parsed each time rather than held in the cache.
const CACHED_DOCUMENT_MAX_BYTES: usize = 16 * 1024;

pub(crate) struct Pipeline {
    max_aliases: usize,
    /// Whether `__schema` and `__type` may be asked for. When not, they are
    /// refused with a code, and validation messages lose their "Did you
    /// mean ...?" hints, which would leak the schema just as well.
    introspection: bool,
    documents: Mutex<LruCache<Arc<str>, Arc<ExecutableDocument>>>,
    /// The schema's field types, for null propagation.
    fields: FieldTypes,
}

/// A request ready to execute, or the response that refuses it.
pub(crate) struct Prepared {
    request: Request,
    /// The selected operation's name, for metrics.
    name: Option<String>,
    operation: Option<OperationType>,
    refused: Option<Response>,
    /// The parsed document, kept to put field errors right afterwards.
    document: Option<Arc<ExecutableDocument>>,
}

/// What [`Pipeline::finish`] needs of a request once it has run.
#[derive(Clone, Default)]
pub(crate) struct Executed {
    name: Option<String>,
    document: Option<Arc<ExecutableDocument>>,
}

impl Prepared {
    /// The type of the operation the request selects, when it parsed.
    pub(crate) fn operation(&self) -> Option<OperationType> {
        self.operation
    }

    /// The request, for the caller to attach data.
    pub(crate) fn request_mut(&mut self) -> &mut Request {
        &mut self.request
    }

    /// The response to a refused request, for callers that execute
    /// prepared requests themselves (subscriptions); `None` if it may run.
    pub(crate) fn take_refusal(&mut self) -> Option<Response> {
        self.refused.take()
    }

    /// The request, to execute as a stream (after [`Prepared::take_refusal`]),
    /// and what finishing its responses needs.
    pub(crate) fn into_request(self) -> (Request, Executed) {
        let executed = Executed {
            name: self.name,
            document: self.document,
        };
        (self.request, executed)
    }
}

impl Pipeline {
    /// `sdl` is the schema's, for the field types null propagation needs.
    pub(crate) fn new(limits: &GraphqlLimits, sdl: &str) -> Self {
        Self {
            max_aliases: limits.max_aliases,
            introspection: limits.introspection,
            documents: Mutex::new(LruCache::new(
                NonZeroUsize::new(CACHED_DOCUMENTS).expect("non-zero"),
            )),
            fields: FieldTypes::from_sdl(sdl),
        }
    }

    /// Parses the request's document, or takes it from the cache, and
    /// checks the alias and introspection limits. The request then carries
    /// the parsed document, which async-graphql uses instead of parsing it
    /// again.
    pub(crate) fn prepare(&self, mut request: Request) -> Prepared {
        let document = match self.parse(&request.query) {
            Ok(document) => document,
            Err(err) => {
                return Prepared {
                    name: request.operation_name.clone(),
                    request,
                    operation: None,
                    refused: Some(refusal(err, code::GRAPHQL_PARSE_FAILED)),
                    document: None,
                };
            }
        };
        let (name, operation) = selected_operation(&document, request.operation_name.as_deref());
        let total = count_aliases(&document);
        let refused = if total > self.max_aliases {
            Some(format!(
                "the document uses {total} aliases; the limit is {}",
                self.max_aliases
            ))
        } else if !self.introspection && asks_for_introspection(&document) {
            Some("introspection is disabled on this server: `__schema` and `__type` cannot be queried".to_owned())
        } else {
            None
        };
        if let Some(message) = refused {
            return Prepared {
                request,
                name,
                operation,
                refused: Some(refusal(
                    ServerError::new(message, None),
                    code::GRAPHQL_VALIDATION_FAILED,
                )),
                document: None,
            };
        }
        request.set_parsed_query((*document).clone());
        Prepared {
            request,
            name,
            operation,
            refused: None,
            document: Some(document),
        }
    }

    /// Refuses a mutation whose caller's account was disabled or deleted
    /// since its access token was issued. This is the one place the rule
    /// lives: every mutation field, over HTTP and WebSocket alike, passes
    /// here, so no resolver has to remember it.
    pub(crate) async fn admit(&self, prepared: &mut Prepared, viewer: Viewer, db: &Db) {
        let Viewer::SignedIn(session) = viewer else {
            return;
        };
        if prepared.refused.is_some() || prepared.operation != Some(OperationType::Mutation) {
            return;
        }
        if let Err(err) = require_standing(db, &session).await {
            let error = async_graphql::Error::from(err).into_server_error(Default::default());
            prepared.refused = Some(Response::from_errors(vec![error]));
        }
    }

    fn parse(&self, query: &str) -> Result<Arc<ExecutableDocument>, ServerError> {
        let cacheable = query.len() <= CACHED_DOCUMENT_MAX_BYTES;
        if cacheable && let Some(document) = self.cache().get(query) {
            return Ok(document.clone());
        }
        let document = Arc::new(parse_query(query)?);
        if cacheable {
            self.cache().put(Arc::from(query), document.clone());
        }
        Ok(document)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LruCache<Arc<str>, Arc<ExecutableDocument>>> {
        self.documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Executes a prepared request (or answers its refusal), finishes its
    /// response and counts it.
    pub(crate) async fn execute(&self, schema: &super::AppSchema, prepared: Prepared) -> Response {
        let started = Instant::now();
        let operation = prepared.operation;
        let (response, name) = match prepared.refused {
            Some(mut refused) => {
                self.code_errors(&mut refused);
                (refused, prepared.name)
            }
            None => {
                let (request, executed) = prepared.into_request();
                let mut response = schema.execute(request).await;
                self.finish(&mut response, &executed);
                (response, executed.name)
            }
        };
        crate::metrics::record_graphql_operation(name.as_deref(), operation, &response, started);
        response
    }

    /// Puts a response of an executed request right: field errors null
    /// their field (and its non-null parents), and every error has a code.
    pub(crate) fn finish(&self, response: &mut Response, executed: &Executed) {
        if let Some(document) = &executed.document
            && response.errors.iter().any(|e| !e.path.is_empty())
        {
            nulls::propagate(&self.fields, document, executed.name.as_deref(), response);
        }
        self.code_errors(response);
    }

    /// Gives every error async-graphql raised itself a code. Our own errors
    /// always carry one (see `AppError`). What is left: without a path, the
    /// document failed validation or a limit before execution; with one,
    /// execution rejected an argument value.
    fn code_errors(&self, response: &mut Response) {
        for error in &mut response.errors {
            let coded = error
                .extensions
                .as_ref()
                .is_some_and(|ext| ext.get("code").is_some());
            if coded {
                continue;
            }
            if error.path.is_empty() && is_parse_guard(&error.message) {
                set_code(error, code::GRAPHQL_PARSE_FAILED);
            } else if error.path.is_empty() {
                if !self.introspection
                    && let Some(at) = error.message.find(" Did you mean")
                {
                    error.message.truncate(at);
                }
                set_code(error, code::GRAPHQL_VALIDATION_FAILED);
            } else {
                set_code(error, code::BAD_USER_INPUT);
            }
        }
    }
}

/// Whether a request carries a NUL character, in a variable or as a
/// `\u0000` escape in the document. PostgreSQL text cannot hold one (the
/// insert would fail as an internal error, after earlier writes of the same
/// mutation), and no client means to send one, so it is refused up front on
/// both backends.
pub(crate) fn carries_nul(request: &Request) -> bool {
    fn in_value(value: &async_graphql::Value) -> bool {
        match value {
            async_graphql::Value::String(s) => s.contains('\0'),
            async_graphql::Value::List(items) => items.iter().any(in_value),
            async_graphql::Value::Object(fields) => fields.values().any(in_value),
            _ => false,
        }
    }
    let query = request.query.to_ascii_lowercase();
    query.contains('\0')
        || query.contains("\\u0000")
        || (1..=6).any(|zeros| query.contains(&format!("\\u{{{}}}", "0".repeat(zeros))))
        || request.variables.iter().any(|(_, v)| in_value(v))
}

/// async-graphql's two guards that run with parsing (nesting deeper than
/// the parser's recursion limit, too many directives on one field), which
/// clients have always seen as parse failures.
fn is_parse_guard(message: &str) -> bool {
    message.starts_with("The recursion depth of the query")
        || message.starts_with("The number of directives on the field")
}

fn with_code(mut err: ServerError, code: &'static str) -> ServerError {
    set_code(&mut err, code);
    err
}

/// A response refusing the request before it ran.
fn refusal(err: ServerError, code: &'static str) -> Response {
    Response::from_errors(vec![with_code(err, code)])
}

/// Whether any selection of the document is `__schema` or `__type` (the
/// introspection entry points; `__typename` is not one).
fn asks_for_introspection(document: &ExecutableDocument) -> bool {
    fn in_set(set: &SelectionSet) -> bool {
        set.items.iter().any(|selection| match &selection.node {
            Selection::Field(field) => {
                matches!(field.node.name.node.as_str(), "__schema" | "__type")
                    || in_set(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    document
        .operations
        .iter()
        .any(|(_, op)| in_set(&op.node.selection_set.node))
        || document
            .fragments
            .values()
            .any(|f| in_set(&f.node.selection_set.node))
}

fn set_code(err: &mut ServerError, code: &'static str) {
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", Value::from(code));
}

/// The name and type of the operation a request selects (the name it
/// asked for, or the document's only operation's name), if it exists.
fn selected_operation(
    document: &ExecutableDocument,
    requested: Option<&str>,
) -> (Option<String>, Option<OperationType>) {
    match (&document.operations, requested) {
        (DocumentOperations::Single(op), _) => (requested.map(str::to_owned), Some(op.node.ty)),
        (DocumentOperations::Multiple(ops), Some(name)) => {
            (Some(name.to_owned()), ops.get(name).map(|op| op.node.ty))
        }
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.iter().next().map_or((None, None), |(name, op)| {
                (Some(name.to_string()), Some(op.node.ty))
            })
        }
        (DocumentOperations::Multiple(_), None) => (None, None),
    }
}

/// Aliased fields in every operation and fragment of a document.
fn count_aliases(document: &ExecutableDocument) -> usize {
    fn aliases(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(field) => {
                    usize::from(field.node.alias.is_some())
                        + aliases(&field.node.selection_set.node)
                }
                Selection::InlineFragment(fragment) => aliases(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let in_operations: usize = document
        .operations
        .iter()
        .map(|(_, op)| aliases(&op.node.selection_set.node))
        .sum();
    let in_fragments: usize = document
        .fragments
        .values()
        .map(|f| aliases(&f.node.selection_set.node))
        .sum();
    in_operations + in_fragments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline() -> Pipeline {
        Pipeline::new(
            &GraphqlLimits {
                max_depth: 10,
                max_complexity: 100,
                max_batch: 10,
                max_aliases: 2,
                introspection: false,
            },
            "",
        )
    }

    fn code_of(response: &Response) -> Option<Value> {
        response.errors[0].extensions.as_ref()?.get("code").cloned()
    }

    #[test]
    fn parse_errors_and_alias_limits_are_refused_with_codes() {
        let pipeline = pipeline();
        let mut bad = pipeline.prepare(Request::new("{ users("));
        let refused = bad.take_refusal().expect("refused");
        assert_eq!(
            code_of(&refused),
            Some(Value::from(code::GRAPHQL_PARSE_FAILED))
        );
        let mut aliased = pipeline.prepare(Request::new("{ a: x b: x c: x }"));
        let refused = aliased.take_refusal().expect("refused");
        assert_eq!(
            code_of(&refused),
            Some(Value::from(code::GRAPHQL_VALIDATION_FAILED))
        );
        assert!(refused.errors[0].message.contains("3 aliases"));
    }

    #[test]
    fn introspection_is_refused_with_a_code_when_off() {
        let pipeline = pipeline();
        for query in [
            "{ __schema { types { name } } }",
            "{ x { ... on X { __type(name: \"Y\") { name } } } }",
            "query { ...F } fragment F on Query { __schema { queryType { name } } }",
        ] {
            let refused = pipeline
                .prepare(Request::new(query))
                .take_refusal()
                .unwrap_or_else(|| panic!("{query} ran"));
            assert_eq!(
                code_of(&refused),
                Some(Value::from(code::GRAPHQL_VALIDATION_FAILED))
            );
            assert!(
                refused.errors[0]
                    .message
                    .contains("introspection is disabled")
            );
        }
        assert!(
            pipeline
                .prepare(Request::new("{ __typename }"))
                .refused
                .is_none()
        );
    }

    #[test]
    fn documents_are_cached_and_typed() {
        let pipeline = pipeline();
        let query = "query A { x } mutation B { y }";
        let typed = pipeline.prepare(Request::new(query).operation_name("B"));
        assert_eq!(typed.operation(), Some(OperationType::Mutation));
        assert_eq!(pipeline.cache().len(), 1);
        let again = pipeline.prepare(Request::new(query));
        assert_eq!(again.operation(), None, "two operations and no name");
        assert_eq!(pipeline.cache().len(), 1);
        let huge = format!("{{ x }} # {}", "-".repeat(CACHED_DOCUMENT_MAX_BYTES));
        assert!(pipeline.prepare(Request::new(huge)).refused.is_none());
        assert_eq!(pipeline.cache().len(), 1, "long documents are not kept");
    }

    #[test]
    fn uncoded_errors_get_codes_and_lose_suggestions() {
        let pipeline = pipeline();
        let mut response = Response::from_errors(vec![
            ServerError::new("Unknown field \"x\". Did you mean \"y\"?", None),
            {
                let mut e = ServerError::new("bad argument", None);
                e.path = vec![async_graphql::PathSegment::Field("user".into())];
                e
            },
            with_code(ServerError::new("mine", None), code::NOT_FOUND),
        ]);
        pipeline.finish(&mut response, &Executed::default());
        let codes: Vec<_> = response
            .errors
            .iter()
            .map(|e| e.extensions.as_ref().unwrap().get("code").cloned())
            .collect();
        assert_eq!(
            codes,
            [
                Some(Value::from(code::GRAPHQL_VALIDATION_FAILED)),
                Some(Value::from(code::BAD_USER_INPUT)),
                Some(Value::from(code::NOT_FOUND)),
            ]
        );
        assert_eq!(response.errors[0].message, "Unknown field \"x\".");
    }
}
