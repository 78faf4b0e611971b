//! Mappings from parsing to mapped records: every error names its line.

use super::*;
use pulse_core::Record;

const MAPPING: &str = r#"
name = "test"
timezone = "+01:00"

[[entity]]
kind = "account"
files = ["companies*.csv"]
[entity.keys]
domain = "Domain"
[entity.fields]
id = "Record ID"
name = "Company name"
segment = { column = "Tier", map = { "Mid Market" = "mid_market", "*" = "smb" } }
plan = { value = "core" }
mrr = { expr = "{ARR} / 12" }
seats = "Employees"
start_date = { column = "Created", format = "%m/%d/%Y" }
status = { column = "Stage", map = { customer = "active", "former customer" = "churned" } }

[[entity]]
kind = "interaction"
files = "*tickets*.csv"
when = { "Status" = ["solved", "closed"] }
[entity.fields]
id = { template = "zd-{Id}" }
account_id = { column = "Requester email", extract = "email_domain", join = "account.domain" }
channel = { column = "Via", map = { "web form" = "ticket", mail = "email", voice = "call" } }
opened_at = { column = "Created at", format = "%Y-%m-%d %H:%M:%S" }
first_response_at = { column = "Created at", format = "%Y-%m-%d %H:%M:%S", add_minutes = "First reply time in minutes" }
escalated = { column = "Priority", map = { urgent = "true", high = "true", "*" = "false" } }
csat = { column = "Satisfaction Score", map = { good = "5", bad = "1", "*" = "" } }
subject = "Subject"
"#;

fn header(cols: &[&str]) -> Vec<String> {
    cols.iter().map(|s| s.to_string()).collect()
}

fn map_row(b: &Bound, joins: &Joins, row: &[&str]) -> Result<Record, FieldError> {
    let mut out = MappedRow::default();
    b.apply(&|i| row[i], joins, &mut out)?;
    Record::from_fields(b.kind, &out)
}

#[test]
fn a_mapping_turns_export_rows_into_records() {
    let m = Mapping::parse(MAPPING).unwrap();
    assert_eq!(m.entities.len(), 2);
    assert_eq!(m.blocks_for("companies-2026.csv").len(), 1);
    assert_eq!(m.blocks_for("Tickets.CSV".to_lowercase().as_str()).len(), 1);

    let acct_header = header(&[
        "Record ID",
        "Company name",
        "Tier",
        "ARR",
        "Employees",
        "Created",
        "Stage",
        "Domain",
        "Phone",
    ]);
    let b = m.entities[0].bind(&acct_header, "companies.csv").unwrap();
    assert_eq!(b.unmapped, ["Phone"]);
    let row = [
        "acct-1",
        "Acme",
        "Mid Market",
        "12,000.00",
        "40",
        "3/5/2026",
        "Customer",
        "acme.com",
        "555",
    ];
    let Record::Account(a) = map_row(&b, &Joins::default(), &row).unwrap() else {
        panic!("an account")
    };
    assert_eq!(a.segment, pulse_core::Segment::MidMarket);
    assert_eq!(a.mrr, 1000.0);
    assert_eq!(a.plan, "core");
    assert_eq!(pulse_core::time::format_day(a.start_date), "2026-03-05");
    assert_eq!(a.status, pulse_core::AccountStatus::Active);
    let mut joins = Joins::default();
    b.offer_keys(&|i| row[i], "acct-1", "acct-1", &mut joins);

    let t_header = header(&[
        "Id",
        "Requester email",
        "Via",
        "Created at",
        "First reply time in minutes",
        "Priority",
        "Satisfaction Score",
        "Subject",
        "Status",
    ]);
    let t = m.entities[1].bind(&t_header, "tickets.csv").unwrap();
    let row = [
        "17",
        "ana@ACME.com",
        "Web form",
        "2026-03-05 10:00:00",
        "90",
        "Urgent",
        "Offered",
        "Help",
        "solved",
    ];
    assert!(t.keeps(&|i| row[i]));
    let Record::Interaction(i) = map_row(&t, &joins, &row).unwrap() else {
        panic!("an interaction")
    };
    assert_eq!(i.id, "zd-17");
    assert_eq!(i.account_id, "acct-1");
    assert_eq!(i.channel, pulse_core::Channel::Ticket);
    // 10:00 at +01:00 is 09:00 UTC; the first reply came 90 minutes later.
    assert_eq!(
        pulse_core::time::format_ts(i.opened_at),
        "2026-03-05T09:00:00Z"
    );
    assert_eq!(
        i.first_response_at
            .map(pulse_core::time::format_ts)
            .as_deref(),
        Some("2026-03-05T10:30:00Z")
    );
    assert!(i.escalated);
    assert_eq!(i.csat, None);

    let open = [
        "18",
        "ana@acme.com",
        "Mail",
        "2026-03-05 10:00:00",
        "",
        "low",
        "Good",
        "x",
        "open",
    ];
    assert!(!t.keeps(&|i| open[i]));

    // A ticket from a domain no account has, and one with a bad date.
    let stranger = [
        "19",
        "bo@else.org",
        "Mail",
        "2026-03-05 10:00:00",
        "",
        "low",
        "Good",
        "x",
        "solved",
    ];
    let e = map_row(&t, &joins, &stranger).unwrap_err();
    assert_eq!(e.field, "account_id (column \"Requester email\")");
    assert_eq!(e.reason, "no account has domain 'else.org'");
    let bad = [
        "20",
        "ana@acme.com",
        "Mail",
        "05/03/2026",
        "",
        "low",
        "Good",
        "x",
        "solved",
    ];
    let e = map_row(&t, &joins, &bad).unwrap_err();
    assert_eq!(e.field, "opened_at (column \"Created at\")");
    assert!(
        e.reason
            .contains("does not match the format %Y-%m-%d %H:%M:%S"),
        "{}",
        e.reason
    );
    // The native rules still hold: an unknown channel is the entity's error.
    let twitter = [
        "21",
        "ana@acme.com",
        "Twitter",
        "2026-03-05 10:00:00",
        "",
        "low",
        "Good",
        "x",
        "solved",
    ];
    let e = map_row(&t, &joins, &twitter).unwrap_err();
    assert_eq!(e.field, "channel");
}

fn line_of(text: &str) -> MappingError {
    Mapping::parse(text).unwrap_err()
}

#[test]
fn mistakes_in_a_mapping_name_their_line() {
    let base = "[[entity]]\nkind = \"usage\"\nfiles = \"u.csv\"\n[entity.fields]\naccount_id = \"A\"\nday = \"D\"\nactive_users = \"U\"\nlogins = \"L\"\n";
    assert!(Mapping::parse(base).is_ok());

    let e = line_of(&format!("{base}loginz = \"X\"\n"));
    assert_eq!(e.line, 9);
    assert!(
        e.message.contains("'loginz' is not a field of usage"),
        "{e}"
    );

    let e = line_of(&base.replace("logins = \"L\"\n", ""));
    assert_eq!(e.line, 2);
    assert!(
        e.message
            .contains("does not map 'logins', which is required"),
        "{e}"
    );

    let e = line_of(&base.replace(
        "day = \"D\"",
        "day = { column = \"D\", format = \"%d/%m\" }",
    ));
    assert_eq!(e.line, 6);
    assert!(e.message.contains("no year"), "{e}");

    let e = line_of(&base.replace("day = \"D\"", "day = { colum = \"D\" }"));
    assert_eq!(e.line, 6);
    assert!(e.message.contains("'colum' is not a rule key"), "{e}");

    let e = line_of(&base.replace("kind = \"usage\"", "kind = \"tickets\""));
    assert_eq!(e.line, 2);
    assert!(e.message.contains("is not an entity"), "{e}");

    let e = line_of(&format!("timezone = \"Europe/Pariss\"\n{base}"));
    assert_eq!(e.line, 1);

    let e = line_of(&base.replace("files = \"u.csv\"", "filez = \"u.csv\""));
    assert_eq!(e.line, 3);

    let e = line_of(&format!("encoding = \"utf-16\"\n{base}"));
    assert_eq!(e.line, 1);
    assert!(e.message.contains("'utf-16' is not known"), "{e}");
    let e = line_of(&base.replace(
        "files = \"u.csv\"",
        "files = \"u.csv\"\nencoding = \"ebcdic\"",
    ));
    assert_eq!(e.line, 4);
}

#[test]
fn mistakes_in_an_aggregating_block_name_their_line() {
    let base = "[[entity]]\nkind = \"usage\"\nfiles = \"e.jsonl\"\naggregate = \"week\"\n\
                [entity.fields]\naccount_id = \"group\"\nday = \"time\"\n\
                active_users = { column = \"user\", count = \"distinct\" }\n\
                logins = { column = \"event\", map = { login = \"1\", \"*\" = \"\" }, count = \"rows\" }\n";
    let m = Mapping::parse(base).unwrap();
    assert_eq!(m.entities[0].aggregate, Some(7));
    let day = Mapping::parse(&base.replace("\"week\"", "\"day\"")).unwrap();
    assert_eq!(day.entities[0].aggregate, Some(1));

    let e = line_of(&base.replace("\"week\"", "\"month\""));
    assert_eq!(e.line, 4);
    assert!(
        e.message.contains("'month' is not known (use week or day)"),
        "{e}"
    );

    let e = line_of(&base.replace("kind = \"usage\"", "kind = \"interaction\""));
    assert_eq!(e.line, 4);
    assert!(e.message.contains("only usage blocks count events"), "{e}");

    // A counted field without its count, and a count on a field that is not counted.
    let e = line_of(&base.replace(", count = \"distinct\"", ""));
    assert_eq!(e.line, 8);
    assert!(
        e.message
            .contains("active_users: an aggregating block counts it"),
        "{e}"
    );
    let e = line_of(&base.replace(
        "day = \"time\"",
        "day = { column = \"time\", count = \"rows\" }",
    ));
    assert_eq!(e.line, 7);
    assert!(
        e.message
            .contains("day: only active_users, logins, features_used count"),
        "{e}"
    );
    let e = line_of(&format!("{base}period_days = {{ value = \"7\" }}\n"));
    assert_eq!(e.line, 10);
    assert!(e.message.contains("the block's aggregate sets it"), "{e}");
    let e = line_of(&base.replace("count = \"distinct\"", "count = \"unique\""));
    assert_eq!(e.line, 8);
    assert!(
        e.message
            .contains("'unique' is not known (use rows, distinct or sum)"),
        "{e}"
    );

    // A count without aggregate.
    let e = line_of(&base.replace("aggregate = \"week\"\n", ""));
    assert_eq!(e.line, 7);
    assert!(
        e.message.contains("count needs the block's aggregate"),
        "{e}"
    );
}

#[test]
fn an_aggregating_block_maps_an_event_to_its_counted_texts() {
    let m = Mapping::parse(
        "[[entity]]\nkind = \"usage\"\nfiles = \"e.jsonl\"\naggregate = \"week\"\n\
         [entity.fields]\naccount_id = \"group\"\nday = \"time\"\n\
         active_users = { column = \"user\", count = \"distinct\" }\n\
         logins = { column = \"event\", map = { login = \"1\", \"*\" = \"\" }, count = \"rows\" }\n\
         features_used = { column = \"event\", map = { login = \"\" }, count = \"distinct\" }\n",
    )
    .unwrap();
    let h = header(&["group", "time", "user", "event"]);
    let b = m.entities[0].bind(&h, "e.jsonl").unwrap();
    let mut out = MappedRow::default();
    let map = |row: [&str; 4], out: &mut MappedRow| {
        let get = |i: usize| row[i];
        b.apply(&get, &Joins::default(), out).unwrap();
        let counted = b.take_counted(out).unwrap();
        let Record::Usage(u) = Record::from_fields(EntityKind::Usage, &*out).unwrap() else {
            panic!("a usage row")
        };
        (u, counted)
    };
    // The user id is text, not a number; the counted fields read 0.
    let (u, c) = map(
        ["a-1", "2026-11-25T10:00:00Z", "usr_7", "Payroll Run"],
        &mut out,
    );
    assert_eq!(
        (u.account_id.as_str(), u.active_users, u.logins),
        ("a-1", 0, 0)
    );
    assert_eq!(pulse_core::time::format_day(u.day), "2026-11-25");
    assert_eq!(
        c,
        [
            Some((Count::Distinct, "usr_7".to_string())),
            Some((Count::Rows, String::new())),
            Some((Count::Distinct, "Payroll Run".to_string())),
        ]
    );
    let (_, c) = map(["a-1", "2026-11-25T10:00:00Z", "usr_7", "Login"], &mut out);
    assert_eq!(c[1], Some((Count::Rows, "1".to_string())));
    assert_eq!(c[2], Some((Count::Distinct, String::new())));
}

#[test]
fn a_summed_field_takes_whole_numbers_and_names_itself_when_it_is_not_one() {
    // The docs' example of rows already counted per user and day.
    let m = Mapping::parse(docs_example("count = \"sum\"")).unwrap();
    let h = header(&["Account ID", "Date", "Visitor ID", "Sessions"]);
    let b = m.entities[0].bind(&h, "daily-usage.csv").unwrap();
    let mut out = MappedRow::default();
    let mut take = |row: [&str; 4]| {
        b.apply(&|i| row[i], &Joins::default(), &mut out).unwrap();
        b.take_counted(&mut out)
    };
    assert_eq!(
        take(["acme", "2026-11-25", "v1", " 12 "]).unwrap()[1],
        Some((Count::Sum, "12".to_string()))
    );
    assert_eq!(
        take(["acme", "2026-11-25", "v1", ""]).unwrap()[1],
        Some((Count::Sum, String::new()))
    );
    for bad in ["-3", "2.5", "many"] {
        let e = take(["acme", "2026-11-25", "v1", bad]).unwrap_err();
        assert_eq!(e.field, "logins", "{bad}");
        assert!(
            e.to_string().contains(&format!(
                "is not a whole number of at least 0 to sum: '{bad}'"
            )),
            "{e}"
        );
    }
}

#[test]
fn a_block_reads_its_files_in_the_mapping_s_encoding_unless_it_says_otherwise() {
    let block = |extra: &str| {
        format!(
            "[[entity]]\nkind = \"usage\"\nfiles = \"u.csv\"\n{extra}[entity.fields]\n\
             account_id = \"A\"\nday = \"D\"\nactive_users = \"U\"\nlogins = \"L\"\n"
        )
    };
    let m = Mapping::parse(&format!(
        "encoding = \"cp1252\"\n{}{}{}",
        block(""),
        block("encoding = \"utf-8\"\n"),
        block("")
    ))
    .unwrap();
    let got: Vec<Encoding> = m.entities.iter().map(|e| e.encoding).collect();
    assert_eq!(
        got,
        [Encoding::Windows1252, Encoding::Utf8, Encoding::Windows1252]
    );
    let m = Mapping::parse(&block("")).unwrap();
    assert_eq!(m.entities[0].encoding, Encoding::Utf8);
}

#[test]
fn a_missing_column_is_named_with_the_closest_one() {
    let m = Mapping::parse(MAPPING).unwrap();
    let h = header(&[
        "Id",
        "Requester Email",
        "Via",
        "Created At",
        "Priority",
        "Subject",
        "Status",
    ]);
    let e = m.entities[1].bind(&h, "tickets.csv").unwrap_err();
    // Case is forgiven; a column that is not there is named, with its line.
    assert_eq!(e.line, 29);
    assert_eq!(
        e.message,
        "column \"First reply time in minutes\" is not in tickets.csv"
    );
    let h = header(&[
        "Id",
        "Requester email",
        "Via",
        "Created",
        "First reply time in minutes",
        "Priority",
        "Satisfaction Score",
        "Subject",
        "Status",
    ]);
    let e = m.entities[1].bind(&h, "tickets.csv").unwrap_err();
    assert!(e.message.contains("did you mean \"Created\""), "{e}");
}

#[test]
fn a_field_when_gives_a_value_only_in_the_rows_it_names() {
    let text = r#"
[[entity]]
kind = "operational_event"
files = "*events*.csv"
[entity.fields]
id = "Id"
account_id = "Account"
kind = "Type"
occurred_at = { column = "Created", format = "%Y-%m-%d %H:%M:%S" }
deleted_at = { column = "Updated", format = "%Y-%m-%d %H:%M:%S", when = { Status = ["deleted", "archived"] } }
"#;
    let m = Mapping::parse(text).unwrap();
    let b = m.entities[0]
        .bind(
            &header(&["Id", "Account", "Type", "Created", "Updated", "Status"]),
            "events.csv",
        )
        .unwrap();
    // The condition's column counts as read.
    assert!(b.unmapped.is_empty(), "{:?}", b.unmapped);
    let row = |status: &'static str| {
        [
            "e-1",
            "acct-1",
            "tax_filing_error",
            "2026-03-05 10:00:00",
            "2026-04-01 08:00:00",
            status,
        ]
    };
    let deleted_at = |status| match map_row(&b, &Joins::default(), &row(status)).unwrap() {
        Record::Operational(e) => e.deleted_at.map(pulse_core::time::format_ts),
        other => panic!("{other:?}"),
    };
    assert_eq!(deleted_at(" Deleted "), Some("2026-04-01T08:00:00Z".into()));
    assert_eq!(deleted_at("archived"), Some("2026-04-01T08:00:00Z".into()));
    assert_eq!(deleted_at("open"), None);

    // A condition on a column the file lacks names the line and the closest column.
    let e = m.entities[0]
        .bind(
            &header(&["Id", "Account", "Type", "Created", "Updated", "State"]),
            "events.csv",
        )
        .unwrap_err();
    assert_eq!(e.line, 10, "{e}");
    assert!(e.message.contains("when: column \"Status\""), "{e}");
    // A `when` that is not a table is refused with its line.
    let bad = text.replace(
        "when = { Status = [\"deleted\", \"archived\"] }",
        "when = \"deleted\"",
    );
    let e = Mapping::parse(&bad).unwrap_err();
    assert_eq!(e.line, 10, "{e}");
    assert!(e.message.contains("is not a table"), "{e}");
}

#[test]
fn html_becomes_its_text() {
    for (html, text) in [
        (
            "<p>Payroll &amp; tax</p><p>failed&nbsp;again</p>",
            "Payroll & tax failed again",
        ),
        ("line one<br/>line two<br>three", "line one line two three"),
        (
            "<div class=\"x\">caf&#233; &#x4e2d; &lt;ok&gt; &quot;q&quot;</div>",
            "café 中 <ok> \"q\"",
        ),
        ("<b>bold</b>face", "boldface"),
        // Tag names in any case; an inline tag is no blank.
        (
            "One<BR>two</P><Li class=a>three<SPAN>four",
            "One two threefour",
        ),
        ("Q&A & more; AT&T", "Q&A & more; AT&T"),
        ("plain text  as  is", "plain text  as  is"),
        ("broken <tag", "broken <tag"),
        ("&unknown; &#xZZ; &é;", "&unknown; &#xZZ; &é;"),
        ("", ""),
    ] {
        assert_eq!(html_text(html), text, "{html}");
    }
}

#[test]
fn html_text_collapses_white_space_as_split_whitespace_does() {
    // Every run of white space, Unicode's included, whether written, decoded
    // from an entity or left by a tag, is one blank; none at either end.
    for html in [
        "<p>  a \t\n b  </p>",
        "&nbsp;&#160;x&#xA0;\u{2003}y\u{0B}z&#32;",
        "<br> <br>\r\n<li>one</li>\u{3000}<li>two</li> ",
        "no&amp;space<br>x</p>\u{85}end",
        "  <p></p>  ",
        "caf\u{e9}  &lt;\u{a0}&gt;",
    ] {
        let got = html_text(html);
        // The text with tags and entities read, then collapsed the slow way
        // (every tag here is one that reads as a blank).
        let mut spaced = String::new();
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            spaced.push_str(&rest[..at]);
            let end = rest.find('>').expect("closed tags only");
            spaced.push(' ');
            rest = &rest[end + 1..];
        }
        spaced.push_str(rest);
        let spaced = spaced
            .replace("&nbsp;", " ")
            .replace("&#160;", "\u{a0}")
            .replace("&#xA0;", "\u{a0}")
            .replace("&#32;", " ")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
        let want = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(got, want, "{html:?}");
    }
}

#[test]
fn a_website_becomes_its_domain() {
    for (website, domain) in [
        ("https://www.Acme.com/about?x=1", Some("acme.com")),
        ("acme.com", Some("acme.com")),
        ("http://user@www.acme.co.uk:8080/", Some("acme.co.uk")),
        ("  WWW.ACME.COM.  ", Some("acme.com")),
        ("shop.acme.com#top", Some("shop.acme.com")),
        ("", None),
        ("https://", None),
    ] {
        assert_eq!(url_domain(website).as_deref(), domain, "{website}");
    }
    // The Salesforce preset reads its accounts' domain that way.
    let m = Mapping::parse(crate::presets::text("salesforce-accounts").unwrap());
    assert!(m.is_ok(), "{:?}", m.err());
    let e = Mapping::parse(
        r#"
[[entity]]
kind = "account"
files = ["*.csv"]
[entity.fields]
id = { column = "Id", extract = "host" }
name = "Name"
"#,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("email_domain, url_domain or html_text"),
        "{e}"
    );
}

#[test]
fn a_map_sorts_numbers_by_range() {
    let text = r#"
[[entity]]
kind = "subscription_event"
files = "*billing*.csv"
[entity.fields]
id = "Id"
account_id = "Account"
kind = { expr = "{New MRR} - {Old MRR | New MRR}", map = { "0" = "seat_change", ">0" = "upgrade", "<0" = "downgrade" } }
occurred_at = "At"
mrr_before = { expr = "{Old MRR | New MRR}" }
mrr_after = "New MRR"
"#;
    let m = Mapping::parse(text).unwrap();
    let b = m.entities[0]
        .bind(
            &header(&["Id", "Account", "New MRR", "Old MRR", "At"]),
            "billing.csv",
        )
        .unwrap();
    let event = |new: &'static str, old: &'static str| match map_row(
        &b,
        &Joins::default(),
        &["s-1", "a-1", new, old, "2026-03-05"],
    )
    .unwrap()
    {
        Record::Subscription(s) => (s.kind.to_string(), s.mrr_before),
        other => panic!("{other:?}"),
    };
    assert_eq!(event("120", "100"), ("upgrade".into(), 100.0));
    assert_eq!(event("80.5", "100"), ("downgrade".into(), 100.0));
    // No old value: the first non-blank column is the new one.
    assert_eq!(event("100", ""), ("seat_change".into(), 100.0));

    // Ranges that overlap, or two on one side, are refused with their line.
    for (bad, says) in [
        (r#""<5" = "downgrade", ">0" = "upgrade""#, "overlap"),
        (r#""<=0" = "downgrade", ">=0" = "upgrade""#, "overlap"),
        (r#""<0" = "downgrade", "<-5" = "churn""#, "two ranges below"),
        (r#""<zero" = "downgrade""#, "is not a range"),
    ] {
        let t = text.replace(
            r#""0" = "seat_change", ">0" = "upgrade", "<0" = "downgrade""#,
            bad,
        );
        let e = Mapping::parse(&t).unwrap_err();
        assert_eq!(e.line, 8, "{e}");
        assert!(e.message.contains(says), "{bad}: {e}");
    }
    // Touching ranges are fine: 0 is below-or-equal, not above.
    let t = text.replace(
        r#""0" = "seat_change", ">0" = "upgrade", "<0" = "downgrade""#,
        r#""<=0" = "downgrade", ">0" = "upgrade""#,
    );
    assert!(Mapping::parse(&t).is_ok());
}

#[test]
fn a_block_when_compares_two_columns() {
    let text = r#"
[[entity]]
kind = "subscription_event"
files = "*billing*.csv"
when = { Seats = { differs_from = "Old seats" } }
[entity.fields]
id = "Id"
account_id = "Account"
kind = { value = "seat_change" }
occurred_at = "At"
"#;
    let m = Mapping::parse(text).unwrap();
    let h = header(&["Id", "Account", "At", "Seats", "Old seats"]);
    let b = m.entities[0].bind(&h, "billing.csv").unwrap();
    // The compared column counts as read.
    assert!(b.unmapped.is_empty(), "{:?}", b.unmapped);
    let keeps = |seats: &'static str, old: &'static str| {
        let row = ["s-1", "a-1", "2026-03-05", seats, old];
        b.keeps(&|i| row[i])
    };
    assert!(keeps("12", "10"));
    assert!(!keeps("10", " 10 "));
    // A blank on either side holds neither way.
    assert!(!keeps("10", ""));
    let same = Mapping::parse(&text.replace("differs_from", "same_as")).unwrap();
    let b = same.entities[0].bind(&h, "billing.csv").unwrap();
    let row = ["s-1", "a-1", "2026-03-05", "10", "10"];
    assert!(b.keeps(&|i| row[i]));
    let row = ["s-1", "a-1", "2026-03-05", "", ""];
    assert!(!b.keeps(&|i| row[i]));

    // The other column must be in the file, and the table must be one of the two.
    let e = m.entities[0]
        .bind(&header(&["Id", "Account", "At", "Seats"]), "billing.csv")
        .unwrap_err();
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("column \"Old seats\""), "{e}");
    let e = Mapping::parse(&text.replace("differs_from", "unlike")).unwrap_err();
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("same_as"), "{e}");
}

#[test]
fn the_docs_example_of_counted_events_reads_an_amplitude_event() {
    // The example under "Events counted into usage" in the docs.
    let m = Mapping::parse(docs_example("aggregate = \"week\"")).unwrap();
    let h = header(&["groups.company_id", "event_time", "user_id", "event_type"]);
    let b = m.entities[0].bind(&h, "amplitude-events.jsonl").unwrap();
    let mut out = MappedRow::default();
    // Amplitude's Export API writes times with a space and microseconds.
    let row = [
        "acme",
        "2021-12-09 00:45:29.430000",
        "u_19",
        "Session Start",
    ];
    b.apply(&|i| row[i], &Joins::default(), &mut out).unwrap();
    let counted = b.take_counted(&mut out).unwrap();
    let Record::Usage(u) = Record::from_fields(EntityKind::Usage, &out).unwrap() else {
        panic!("a usage row")
    };
    assert_eq!(pulse_core::time::format_day(u.day), "2021-12-09");
    assert_eq!(
        counted,
        [
            Some((Count::Distinct, "u_19".to_string())),
            Some((Count::Rows, "1".to_string())),
            Some((Count::Distinct, String::new())),
        ]
    );
}

/// The first TOML example of the "Bring your own data" page that holds
/// `text`.
fn docs_example(text: &str) -> &'static str {
    include_str!("../../../../docs/bring-your-own-data.md")
        .split("```toml")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains(text))
        .unwrap_or_else(|| panic!("the docs show an example with {text}"))
}

#[test]
fn collapsed_text_is_split_whitespace_joined_however_it_is_pushed() {
    // Text from an alphabet of words, spaces, other white space and
    // non-ASCII letters, pushed whole or in pieces: always what
    // `split_whitespace` joined by blanks gives.
    let alphabet = [
        "a", "bc", " ", " ", "  ", "\t", "\n", "\r\n", "\u{a0}", "\u{2003}", "é", "中", "x y",
        "\u{7f}",
    ];
    let mut seed = 0x2545_f491_u64;
    let mut next = |n: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) as usize % n
    };
    for _ in 0..2000 {
        let len = next(12);
        let pieces: Vec<&str> = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
        let text = pieces.concat();
        let want = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut whole = Collapsed::with_capacity(0);
        whole.push_str(&text);
        assert_eq!(whole.out, want, "{text:?} pushed whole");
        let mut parts = Collapsed::with_capacity(0);
        for p in &pieces {
            parts.push_str(p);
        }
        assert_eq!(parts.out, want, "{pieces:?} pushed in pieces");
    }
}
