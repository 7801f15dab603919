package rules

import (
	"errors"
	"fmt"
)

// Expr is a parsed expression. It is immutable and safe for concurrent use.
type Expr struct {
	src  string
	root node
}

// node is one element of the parse tree: a leaf holds a value token, an operator its
// operands (one for `!`, two for the others).
type node struct {
	tok         token
	left, right *node
}

// Parse parses s the way GitLab does: a shunting-yard pass to reverse Polish notation,
// then a tree built from it. Like GitLab it accepts some odd forms (`$A $B ==`) and
// refuses unbalanced parentheses, dangling operators and leftover operands.
func Parse(s string) (*Expr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errors.New("empty expression")
	}
	rpn, err := toRPN(toks)
	if err != nil {
		return nil, err
	}
	var stack []*node
	for _, t := range rpn {
		switch {
		case t.isValue():
			stack = append(stack, &node{tok: t})
		case t.kind == tokNot:
			if len(stack) < 1 {
				return nil, fmt.Errorf("missing operand for %s", t.text)
			}
			n := &node{tok: t, left: stack[len(stack)-1]}
			stack[len(stack)-1] = n
		case t.kind == tokParenOpen || t.kind == tokParenClose:
			return nil, errors.New("unmatched parenthesis")
		default:
			if len(stack) < 2 {
				return nil, fmt.Errorf("missing operand for %s", t.text)
			}
			n := &node{tok: t, left: stack[len(stack)-2], right: stack[len(stack)-1]}
			stack = append(stack[:len(stack)-2], n)
		}
	}
	if len(stack) != 1 {
		return nil, errors.New("operands without an operator between them")
	}
	return &Expr{src: s, root: *stack[0]}, nil
}

// MustParse is Parse for expressions known to be valid; it panics otherwise.
func MustParse(s string) *Expr {
	e, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("rules.MustParse(%q): %v", s, err))
	}
	return e
}

// String returns the source text of the expression.
func (e *Expr) String() string { return e.src }

// toRPN is GitLab's Parser#tokens_rpn: an operator pops the operators on the stack that
// bind at least as tightly; a closing parenthesis pops back to its opening one.
func toRPN(toks []token) ([]token, error) {
	var out, ops []token
	consume := func(t token) bool {
		return len(ops) > 0 && t.precedence() >= ops[len(ops)-1].precedence()
	}
	for _, t := range toks {
		switch {
		case t.isValue():
			out = append(out, t)
		case t.kind == tokParenOpen:
			ops = append(ops, t)
		case t.kind == tokParenClose:
			for consume(t) {
				out = append(out, ops[len(ops)-1])
				ops = ops[:len(ops)-1]
			}
			if len(ops) == 0 {
				return nil, errors.New("unmatched parenthesis")
			}
			ops = ops[:len(ops)-1] // the opening parenthesis
		default:
			for consume(t) {
				out = append(out, ops[len(ops)-1])
				ops = ops[:len(ops)-1]
			}
			ops = append(ops, t)
		}
	}
	for i := len(ops) - 1; i >= 0; i-- {
		out = append(out, ops[i])
	}
	return out, nil
}
