// Package rules owns GitLab CI/CD's variable expression language, the one used by
// `rules:if`, `only:variables`, `except:variables` and `workflow:rules`: a lexer, a
// parser and an evaluator that follow GitLab's own (lib/gitlab/ci/pipeline/expression)
// closely, quirks included, so that an expression means the same here as on a GitLab
// server.
//
// Values are nil (an undefined variable or `null`), strings, booleans and regular
// expressions. `&&` and `||` return one of their operands, as Ruby does, and the final
// result is true when it is "present": not nil, not false, not a blank string.
package rules
