//! The `contacts` block: a contact log names the customer's column, the date's and where the
//! channel comes from (one column, or one channel for every contact).

use crate::diagnostics::{Code, Diagnostic};
use crate::model::{ContactLog, ContactRole};

pub fn check(log: &ContactLog, out: &mut Vec<Diagnostic>) {
    for (role, example) in [
        (ContactRole::Customer, "customer from \"Customer ID\""),
        (
            ContactRole::Date,
            "date from \"Sent At\" format \"%Y-%m-%d %H:%M:%S\"",
        ),
    ] {
        if log.column(role).is_none() {
            out.push(
                Diagnostic::error(
                    Code::MissingProperty,
                    format!("the `contacts` block names no `{role}` column"),
                )
                .at(log.span)
                .help(format!("add a line such as `{example}`")),
            );
        }
    }
    match (log.column(ContactRole::Channel), &log.channel) {
        (None, None) => out.push(
            Diagnostic::error(
                Code::MissingProperty,
                "the `contacts` block names no channel",
            )
            .at(log.span)
            .help(
                "add `channel from \"Channel\"` for a column of channel words, or \
                     `channel email` when every contact of the log went out by email",
            ),
        ),
        (Some(column), Some(fixed)) => out.push(
            Diagnostic::error(
                Code::DuplicateProperty,
                "the `contacts` block gives the channel twice: a column and one channel",
            )
            .at(fixed.span)
            .help(format!(
                "keep `channel from \"{}\"` or `channel {}`",
                column.column.value, fixed.value
            )),
        ),
        _ => {}
    }
    for column in &log.columns {
        let Some(format) = column.formats.first() else {
            continue;
        };
        if column.role.value == ContactRole::Date {
            super::schema::date_formats(&log.date_field(), &column.formats, out);
        } else {
            out.push(
                Diagnostic::error(
                    Code::BadOption,
                    format!(
                        "`format` does not apply to the `{}` column",
                        column.role.value
                    ),
                )
                .at(format.span)
                .help("only the `date` column of a contact log takes a `format`"),
            );
        }
    }
}
