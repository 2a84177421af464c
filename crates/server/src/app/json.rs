//! JSON input parsed into typed values: broken JSON is a 400; JSON of the wrong shape is a 422
//! naming the field by its path. Request bodies and merge patches (a template's or reward's
//! stored spec with a patch applied) go through the same parser.

use crate::app::error::{ApiError, ErrorCode};
use huiyuan_domain::validation::FieldError;
use serde::de::DeserializeOwned;

/// Parses a JSON body. Broken JSON is a 400; JSON of the wrong shape is a 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let source = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        bytes
    };
    let mut deserializer = serde_json::Deserializer::from_slice(source);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                // A missing field is reported at its parent; name the field itself.
                let missing = message
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next());
                let field = match (path.as_str(), missing) {
                    (".", Some(name)) => name.to_owned(),
                    (_, Some(name)) => format!("{path}.{name}"),
                    (".", None) => "body".to_owned(),
                    (_, None) => path,
                };
                let code = if missing.is_some() {
                    "required"
                } else {
                    "invalid_value"
                };
                ApiError::from(FieldError::new(field, code, message))
            }
            _ => ApiError::with_detail(ErrorCode::InvalidJson, inner.to_string()),
        }
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::with_detail(ErrorCode::InvalidJson, error.to_string()))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::parse_json;
    use crate::app::error::ErrorCode;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Input {
        name: String,
        nested: Nested,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Nested {
        count: u32,
    }

    #[test]
    fn wrong_shapes_name_the_field() {
        let error =
            parse_json::<Input>(br#"{"name": "x", "nested": {"count": "many"}}"#).unwrap_err();
        assert_eq!(error.code, ErrorCode::ValidationFailed);
        assert_eq!(error.errors[0].field, "nested.count");
    }

    #[test]
    fn missing_fields_are_named() {
        let error = parse_json::<Input>(br#"{"nested": {"count": 1}}"#).unwrap_err();
        assert_eq!(
            (error.errors[0].field.as_str(), error.errors[0].code),
            ("name", "required")
        );
        let error = parse_json::<Input>(br#"{"name": "x", "nested": {}}"#).unwrap_err();
        assert_eq!(error.errors[0].field, "nested.count");
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        assert_eq!(
            parse_json::<Input>(b"{\"name\": ").unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            parse_json::<Input>(br#"{"name": "x", "nested": {"count": 1}} trailing"#)
                .unwrap_err()
                .code,
            ErrorCode::InvalidJson
        );
    }

    #[test]
    fn an_empty_body_is_an_empty_object() {
        #[derive(serde::Deserialize)]
        struct Patch {
            name: Option<String>,
        }
        assert!(parse_json::<Patch>(b"").unwrap().name.is_none());
    }
}
