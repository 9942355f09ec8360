//! The error of a directive, which every parser of the module returns:
//! Apache shows it with the line of the configuration it came from.

use std::fmt;

/// A directive's error: the directive's name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectiveError {
    pub directive: &'static str,
    pub message: String,
}

impl DirectiveError {
    pub fn new(directive: &'static str, message: impl Into<String>) -> Self {
        Self {
            directive,
            message: message.into(),
        }
    }
}

impl fmt::Display for DirectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.directive, self.message)
    }
}
