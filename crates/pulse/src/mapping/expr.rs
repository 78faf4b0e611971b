//! Arithmetic derivations of a mapping (`expr = "{Amount} * {Quantity} / 12"`).
//!
//! Numbers, `+ - * /`, parentheses and column references in braces. A
//! reference may translate words to numbers first:
//! `{Interval: month = 1, year = 12}`, and name several columns, the first
//! non-blank of which is read: `{Old price | Price}`. A blank referenced
//! column makes the whole result blank (the field is absent), a value that
//! is not a number is an error naming the column.

use std::collections::HashMap;

/// A parsed expression; columns are referred to by their position in
/// [`Expr::columns`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    node: Node,
    /// The column names the expression reads, in order of appearance.
    pub(crate) columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Num(f64),
    /// A column (indices into `columns`: the first non-blank of them), with
    /// its word-to-number table.
    Col(Vec<usize>, Option<HashMap<String, f64>>),
    Neg(Box<Node>),
    Bin(Box<Node>, Op, Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// Why a column's value could not be used.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EvalError {
    /// The column's value (quoted) is not a number, nor one of its words.
    NotANumber { column: String, value: String },
    /// Division by zero.
    DivisionByZero,
}

impl Expr {
    pub(crate) fn parse(text: &str) -> Result<Expr, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            text,
            i: 0,
            columns: Vec::new(),
        };
        let node = p.expr()?;
        p.skip_ws();
        if p.i < p.s.len() {
            return Err(format!(
                "unexpected '{}' at character {}",
                &text[p.i..].chars().next().unwrap_or(' '),
                p.i + 1
            ));
        }
        Ok(Expr {
            node,
            columns: p.columns,
        })
    }

    /// Evaluates with `value(i)` the text of column `i` and `number` the
    /// mapping's number reader; `Ok(None)` when a referenced column is blank.
    pub(crate) fn eval(
        &self,
        value: &dyn Fn(usize) -> String,
        number: &dyn Fn(&str) -> Option<f64>,
    ) -> Result<Option<f64>, EvalError> {
        eval(&self.node, &self.columns, value, number)
    }
}

fn eval(
    n: &Node,
    columns: &[String],
    value: &dyn Fn(usize) -> String,
    number: &dyn Fn(&str) -> Option<f64>,
) -> Result<Option<f64>, EvalError> {
    Ok(match n {
        Node::Num(v) => Some(*v),
        Node::Col(is, words) => {
            let Some((i, raw)) = is
                .iter()
                .map(|&i| (i, value(i)))
                .find(|(_, v)| !v.trim().is_empty())
            else {
                return Ok(None);
            };
            let t = raw.trim();
            let from_words = words
                .as_ref()
                .and_then(|w| w.get(&t.to_lowercase()).copied());
            match from_words.or_else(|| number(t)) {
                Some(v) => Some(v),
                None => {
                    return Err(EvalError::NotANumber {
                        column: columns[i].clone(),
                        value: t.to_string(),
                    });
                }
            }
        }
        Node::Neg(a) => eval(a, columns, value, number)?.map(|v| -v),
        Node::Bin(a, op, b) => {
            let (Some(x), Some(y)) = (
                eval(a, columns, value, number)?,
                eval(b, columns, value, number)?,
            ) else {
                return Ok(None);
            };
            Some(match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => {
                    if y == 0.0 {
                        return Err(EvalError::DivisionByZero);
                    }
                    x / y
                }
            })
        }
    })
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    columns: Vec<String>,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    fn expr(&mut self) -> Result<Node, String> {
        let mut left = self.term()?;
        while let Some(c @ (b'+' | b'-')) = self.peek() {
            self.i += 1;
            let right = self.term()?;
            let op = if c == b'+' { Op::Add } else { Op::Sub };
            left = Node::Bin(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Node, String> {
        let mut left = self.factor()?;
        while let Some(c @ (b'*' | b'/')) = self.peek() {
            self.i += 1;
            let right = self.factor()?;
            let op = if c == b'*' { Op::Mul } else { Op::Div };
            left = Node::Bin(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Node, String> {
        match self.peek() {
            None => Err("ends where a number or a {column} was expected".into()),
            Some(b'-') => {
                self.i += 1;
                Ok(Node::Neg(Box::new(self.factor()?)))
            }
            Some(b'(') => {
                self.i += 1;
                let n = self.expr()?;
                if self.peek() != Some(b')') {
                    return Err(format!("a ')' is missing at character {}", self.i + 1));
                }
                self.i += 1;
                Ok(n)
            }
            Some(b'{') => {
                let start = self.i + 1;
                let Some(len) = self.text[start..].find('}') else {
                    return Err(format!("the '{{' at character {start} is never closed"));
                };
                let inner = &self.text[start..start + len];
                self.i = start + len + 1;
                let (name, words) = match inner.split_once(':') {
                    None => (inner.trim(), None),
                    Some((name, table)) => (name.trim(), Some(words(table)?)),
                };
                let mut idx = Vec::new();
                for name in name.split('|').map(str::trim) {
                    if name.is_empty() {
                        return Err(format!("an empty column name at character {start}"));
                    }
                    idx.push(match self.columns.iter().position(|c| c == name) {
                        Some(i) => i,
                        None => {
                            self.columns.push(name.to_string());
                            self.columns.len() - 1
                        }
                    });
                }
                Ok(Node::Col(idx, words))
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_digit() || self.s[self.i] == b'.')
                {
                    self.i += 1;
                }
                self.text[start..self.i]
                    .parse()
                    .map(Node::Num)
                    .map_err(|_| format!("'{}' is not a number", &self.text[start..self.i]))
            }
            Some(_) => Err(format!(
                "unexpected '{}' at character {} (write columns as {{Column name}})",
                self.text[self.i..].chars().next().unwrap_or(' '),
                self.i + 1
            )),
        }
    }
}

/// `month = 1, year = 12`: words (compared in lower case) and their numbers.
fn words(table: &str) -> Result<HashMap<String, f64>, String> {
    let mut out = HashMap::new();
    for pair in table.split(',') {
        let Some((w, v)) = pair.split_once('=') else {
            return Err(format!("'{}' is not word = number", pair.trim()));
        };
        let v: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("'{}' is not a number", v.trim()))?;
        out.insert(w.trim().to_lowercase(), v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(e: &str, row: &[&str]) -> Result<Option<f64>, EvalError> {
        let x = Expr::parse(e).unwrap();
        let row: Vec<String> = row.iter().map(|s| s.to_string()).collect();
        x.eval(&|i| row[i].clone(), &|s| s.parse().ok())
    }

    #[test]
    fn arithmetic_follows_precedence_and_reads_columns() {
        assert_eq!(run("1 + 2 * 3", &[]), Ok(Some(7.0)));
        assert_eq!(run("(1 + 2) * 3", &[]), Ok(Some(9.0)));
        assert_eq!(run("-{A} / 4", &["10"]), Ok(Some(-2.5)));
        assert_eq!(
            run(
                "{Amount} * {Quantity} / {Interval: month = 1, year = 12}",
                &["120", "2", "Year"]
            ),
            Ok(Some(20.0))
        );
        let x = Expr::parse("{A} + {B} + {A}").unwrap();
        assert_eq!(x.columns, ["A", "B"]);
    }

    #[test]
    fn blanks_make_the_result_absent_and_words_are_errors() {
        assert_eq!(run("{A} / 12", &[" "]), Ok(None));
        assert_eq!(
            run("{A} / 12", &["lots"]),
            Err(EvalError::NotANumber {
                column: "A".into(),
                value: "lots".into()
            })
        );
        assert_eq!(
            run("{A} / {B}", &["1", "0"]),
            Err(EvalError::DivisionByZero)
        );
    }

    #[test]
    fn a_reference_to_several_columns_reads_the_first_non_blank() {
        let e = "{Old | New} * 2";
        assert_eq!(run(e, &["3", "5"]), Ok(Some(6.0)));
        assert_eq!(run(e, &[" ", "5"]), Ok(Some(10.0)));
        assert_eq!(run(e, &["", ""]), Ok(None));
        assert_eq!(
            run(e, &["", "many"]),
            Err(EvalError::NotANumber {
                column: "New".into(),
                value: "many".into()
            })
        );
        assert_eq!(Expr::parse("{A | B} + {B}").unwrap().columns, ["A", "B"]);
        assert!(
            Expr::parse("{A | } + 1")
                .unwrap_err()
                .contains("empty column")
        );
    }

    #[test]
    fn bad_expressions_say_where() {
        assert!(Expr::parse("{A} +").unwrap_err().contains("ends"));
        assert!(Expr::parse("(1 + 2").unwrap_err().contains("')'"));
        assert!(Expr::parse("{A").unwrap_err().contains("never closed"));
        assert!(Expr::parse("A * 2").unwrap_err().contains("{Column name}"));
        assert!(
            Expr::parse("{I: month}")
                .unwrap_err()
                .contains("word = number")
        );
    }
}
