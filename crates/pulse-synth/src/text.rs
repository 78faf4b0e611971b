//! The words customers write: subjects and bodies of tickets, emails, chats
//! and call notes, and survey comments, in a payroll / HR / benefits
//! customer's voice.
//!
//! A message is assembled from sentence templates chosen by topic, intent
//! (a how-do-I question, a problem, a request, a follow-up on an unresolved
//! issue, praise) and tone (negative, neutral, positive, each possibly
//! strong). Templates hold `{slot}`s (a state, a head count, a pay date, an
//! integration, a coworker's name...) filled per message, so the same
//! situation reads differently every time. The details of an issue (which
//! problem, which state, which employee) come from a per-thread seed, so a
//! customer's follow-ups talk about the same thing as their first message.
//!
//! Tone carries the sentiment cues real text has: negation ("still not
//! resolved", "nobody has gotten back to us"), intensifiers ("extremely",
//! "really"), repeated punctuation ("!!!"), emoticons and emoji, and
//! contrastive sentences ("the new dashboard looks nice, but ..."). Nothing
//! here allocates except growing the caller's `String`.

use std::fmt::Write as _;

use rand::Rng;

use pulse_core::time::Day;
use pulse_core::{Channel, Persona};

use crate::cal;
use crate::world::{FIRST_NAMES, REGIONS, mix};

/// What an interaction is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    PayrollRun,
    TaxWithholding,
    Benefits,
    PtoLeave,
    NewHire,
    Invoice,
    Integrations,
    DirectDeposit,
    YearEnd,
    TimeTracking,
    UserAccess,
    Reporting,
}

impl Topic {
    pub(crate) const ALL: [Topic; 12] = [
        Topic::PayrollRun,
        Topic::TaxWithholding,
        Topic::Benefits,
        Topic::PtoLeave,
        Topic::NewHire,
        Topic::Invoice,
        Topic::Integrations,
        Topic::DirectDeposit,
        Topic::YearEnd,
        Topic::TimeTracking,
        Topic::UserAccess,
        Topic::Reporting,
    ];

    /// The topic code written to `interactions.topic`.
    pub(crate) fn code(self) -> &'static str {
        self.text().code
    }

    fn text(self) -> &'static TopicText {
        &TOPICS[self as usize]
    }
}

/// The customer's mood as the words carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Negative,
    Neutral,
    Positive,
}

/// What the customer wants from this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    Question,
    Problem,
    Request,
    FollowUp,
    Praise,
}

/// The dominant reason behind a survey score, which its comment names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    Price,
    Support,
    Adoption,
    Relationship,
    General,
    Competitor,
}

/// What a message knows about the account.
pub(crate) struct Ctx<'a> {
    pub(crate) company: &'a str,
    pub(crate) states: &'a [&'static str],
    pub(crate) cadence: &'static str,
    pub(crate) n_emp: i64,
    pub(crate) noun: &'static str,
}

/// One message to write.
pub(crate) struct Msg<'a> {
    pub(crate) topic: Topic,
    pub(crate) tone: Tone,
    pub(crate) strong: bool,
    pub(crate) intent: Intent,
    pub(crate) channel: Channel,
    pub(crate) persona: Persona,
    /// 1 for the first contact about an issue, 2 for the second...
    pub(crate) ordinal: u32,
    /// Fixes the details and subject across a thread.
    pub(crate) thread: u64,
    pub(crate) ctx: &'a Ctx<'a>,
    /// The writer's first name.
    pub(crate) first: &'a str,
    pub(crate) day: Day,
}

struct TopicText {
    code: &'static str,
    label: &'static str,
    subjects: &'static [&'static str],
    /// Verb phrases completing "how do I ...".
    actions: &'static [&'static str],
    /// Problem statements, starting lowercase, without a final period.
    problems: &'static [&'static str],
    /// What the problem does to the customer, as a full sentence.
    impacts: &'static [&'static str],
    /// Good news about the topic, completing "thanks for ..." style frames.
    praise: &'static [&'static str],
}

const TOPICS: [TopicText; 12] = [
    TopicText {
        code: "payroll_run",
        label: "payroll",
        subjects: &[
            "Payroll for {payday}",
            "Off-cycle payroll question",
            "Payroll stuck in processing",
            "Question about our pay schedule",
            "Bonus payroll",
            "Payroll approval",
            "Net pay issue",
            "Payroll run help",
        ],
        actions: &[
            "run an off-cycle payroll for a final paycheck",
            "change the pay date for a holiday week",
            "add a one-time bonus to the next payroll",
            "void and reissue a paycheck",
            "set up a second pay schedule for our hourly staff",
            "preview payroll totals before I submit",
            "add a second approver to the payroll run",
            "run payroll for a new employee in {state}",
            "pay a commission outside the regular run",
            "move our pay date when the 15th falls on a weekend",
        ],
        problems: &[
            "{n} employees were not paid on {payday}",
            "the payroll for {payday} is stuck in processing",
            "net pay came out wrong for {n} people after the last update",
            "overtime was not calculated for our hourly staff in {state}",
            "the bonus we added to the off-cycle run never showed up on the paystubs",
            "we were debited twice for the same payroll run",
            "the payroll preview shows $0 for {name2}",
            "we approved payroll but the funds never left our account",
            "the cutoff reminder never arrived, so we missed the submission window",
            "the payroll for {payday} ran with last period's hours",
        ],
        impacts: &[
            "People are asking me why their paychecks are short.",
            "Some of our staff live paycheck to paycheck and this really hurts them.",
            "I spent my whole morning calling employees to apologize.",
            "We had to cut manual checks to cover it.",
        ],
        praise: &[
            "how smooth payroll has been this quarter",
            "getting our off-cycle run out the same day",
            "the new payroll preview, it saves me a lot of time",
        ],
    },
    TopicText {
        code: "tax_withholding",
        label: "tax withholding",
        subjects: &[
            "Wrong state tax withholding",
            "Tax notice from {state}",
            "State tax setup for remote employee",
            "Local tax question",
            "Withholding question",
            "Quarterly filing question",
            "W-4 changes not applied",
        ],
        actions: &[
            "update withholding for someone moving to {state2}",
            "register for a tax account in {state}",
            "change an employee's work location to {state2}",
            "see which tax filings you make on our behalf",
            "handle local taxes for our {state} office",
            "add a new state for a remote employee",
            "upload a tax notice we received",
            "check our {state} unemployment rate",
        ],
        problems: &[
            "{state} income tax is being withheld for {name2}, who lives and works in {state2}",
            "the wrong state is set as the work location for {n} of our remote employees",
            "we received a penalty notice from {state} for a filing you were supposed to handle",
            "the {state} unemployment rate on our account is out of date",
            "local tax is missing on the last two pay stubs for our {state} team",
            "the quarterly 941 amount does not match our payroll register",
            "the W-4 changes {name2} submitted were never applied",
            "tax is being withheld in both {state} and {state2} for the same employee",
        ],
        impacts: &[
            "Now we owe penalties for something that was supposed to be handled for us.",
            "{name2} is going to owe money at tax time because of this.",
            "Our accountant is asking how this could happen.",
            "We pay you precisely so we don't have to worry about tax filings.",
        ],
        praise: &[
            "sorting out our {state} tax registration so quickly",
            "catching the withholding mistake before it went out",
            "handling the {state} notice for us",
        ],
    },
    TopicText {
        code: "benefits_enrollment",
        label: "benefits",
        subjects: &[
            "Open enrollment question",
            "Benefits deduction wrong",
            "Dependent not showing",
            "{carrier} enrollment file",
            "401(k) contributions",
            "Benefits setup for next year",
            "HSA deductions",
        ],
        actions: &[
            "add a dependent mid-year",
            "set up open enrollment for next year",
            "change the employer contribution for dental",
            "enroll a new hire in {carrier} coverage",
            "end benefits for someone who is leaving",
            "set up a 401(k) match",
            "let employees compare plans during open enrollment",
            "extend the open enrollment deadline by a week",
        ],
        problems: &[
            "{name2}'s dental deduction is still coming out even though she waived coverage",
            "the {carrier} enrollment file did not include our new hires",
            "open enrollment closes on {date} and half our employees can't see their plan options",
            "the 401(k) contributions were not sent with the payroll on {payday}",
            "HSA deductions doubled on the last paycheck",
            "dependents added during open enrollment are missing",
            "the plan costs shown to employees are last year's",
            "{n} employees were enrolled in the wrong medical plan",
        ],
        impacts: &[
            "Employees are getting bills from the doctor because their coverage isn't active.",
            "Open enrollment is the worst possible time for this.",
            "I have a line of people at my desk asking about their coverage.",
            "This could put us out of compliance.",
        ],
        praise: &[
            "how easy open enrollment was this year",
            "getting {name2}'s coverage fixed before her appointment",
            "the new benefits comparison page, employees love it",
        ],
    },
    TopicText {
        code: "pto_leave",
        label: "PTO and leave",
        subjects: &[
            "PTO balances",
            "Leave policy setup",
            "Parental leave question",
            "Sick leave accrual",
            "Time off request not showing",
            "PTO carryover",
        ],
        actions: &[
            "set up a separate PTO policy for part-timers",
            "carry over unused PTO to next year",
            "record unpaid leave for {name2}",
            "set up {state} paid sick leave",
            "see PTO balances for the whole team",
            "approve time off for someone on my team",
            "pay out PTO in a final paycheck",
            "set up a parental leave policy",
        ],
        problems: &[
            "PTO balances reset to zero for everyone in {state}",
            "the accrual policy is not applying to part-time staff",
            "{name2}'s parental leave is showing as unpaid",
            "sick leave for our {state} employees is not following the state rule",
            "approved time off is not showing on the team calendar",
            "PTO requests are going to a manager who left months ago",
            "the PTO payout on {name2}'s final check was wrong",
        ],
        impacts: &[
            "Employees think we took away their vacation days.",
            "Managers are approving time off blind.",
            "I'm tracking balances in a spreadsheet again, which is why we bought this.",
        ],
        praise: &[
            "the new PTO calendar, managers finally use it",
            "fixing the accrual rules so fast",
            "walking me through the leave policy setup",
        ],
    },
    TopicText {
        code: "new_hire_onboarding",
        label: "onboarding new hires",
        subjects: &[
            "New hire paperwork",
            "Onboarding packet",
            "I-9 question",
            "Adding a new employee",
            "Offer letter template",
            "New hire starting {date}",
        ],
        actions: &[
            "send an offer letter through the platform",
            "add a new hire who starts on {date}",
            "rehire a former employee",
            "set up onboarding tasks for a new location",
            "collect I-9 documents electronically",
            "add a contractor instead of an employee",
            "customize the welcome email new hires get",
        ],
        problems: &[
            "the onboarding packet for {name2} never went out",
            "new hires can't complete their I-9 in the portal",
            "{n} new hires are stuck on the direct deposit step",
            "the offer letter template pulls the wrong start date",
            "e-signature on the onboarding documents keeps failing",
            "new hires are getting the welcome email meant for managers",
        ],
        impacts: &[
            "We have people starting Monday who can't get set up.",
            "It makes us look disorganized in front of new employees.",
            "Our hiring is on hold until this works.",
        ],
        praise: &[
            "how quickly new hires can get set up now",
            "the onboarding checklist, it saves our managers hours",
            "getting {name2} onboarded before her first day",
        ],
    },
    TopicText {
        code: "invoice_billing",
        label: "our invoice",
        subjects: &[
            "Invoice for {month}",
            "Billing question",
            "Charged for terminated employees",
            "Card charged twice",
            "Update billing contact",
            "Contract pricing question",
        ],
        actions: &[
            "download last month's invoice",
            "update the card on file",
            "add a PO number to our invoices",
            "change the billing contact",
            "see what we are charged per employee",
            "get a copy of our contract",
            "switch to annual billing",
        ],
        problems: &[
            "our invoice for {month} is {amount} higher than our contract",
            "we were billed for {n} employees who were terminated last quarter",
            "the card on file was charged twice this month",
            "the invoice still shows our old address",
            "we were charged for a module we never turned on",
            "the new per-employee price showed up before our renewal date",
        ],
        impacts: &[
            "Our controller won't approve the invoice until this is fixed.",
            "This is the second billing mistake this year.",
            "We are a small business and every dollar matters.",
        ],
        praise: &[
            "fixing the invoice right away",
            "the clear breakdown on the new invoices",
            "crediting our account without any back and forth",
        ],
    },
    TopicText {
        code: "integrations",
        label: "the integration",
        subjects: &[
            "{system} sync failing",
            "Integration question",
            "API error",
            "Accounting export",
            "{system} connection",
            "SSO setup",
        ],
        actions: &[
            "connect {system} to payroll",
            "map our departments to {system} classes",
            "resync employees from {system}",
            "generate an API key",
            "turn on the accounting export",
            "set up SSO with {sso}",
            "send hours from {system} into payroll",
        ],
        problems: &[
            "the {system} sync has been failing since {weekday}",
            "journal entries are not posting to {system}",
            "new employees from {system} are not coming across",
            "the API keeps returning a 500 error when we pull pay statements",
            "the {system} connection shows as disconnected again",
            "the accounting export doubled every line for {month}",
        ],
        impacts: &[
            "Our books are out of sync and month-end close is this week.",
            "Someone on my team is re-keying everything by hand.",
            "The integration was the main reason we chose you.",
        ],
        praise: &[
            "getting the {system} sync working again",
            "the new {system} integration, it just works",
            "helping us set up SSO with {sso}",
        ],
    },
    TopicText {
        code: "direct_deposit",
        label: "direct deposit",
        subjects: &[
            "Direct deposit issue",
            "Paycheck went to old account",
            "Bank verification pending",
            "Split deposit setup",
            "Deposit timing",
        ],
        actions: &[
            "change an employee's bank account",
            "set up split deposits",
            "pay someone by paper check this time",
            "see when deposits will land",
            "add a pay card option for employees without a bank account",
            "stop a direct deposit that was sent to a closed account",
        ],
        problems: &[
            "{name2}'s paycheck went to an old bank account",
            "direct deposits for {payday} landed a day late",
            "the bank verification for {name2} has been pending for a week",
            "split deposits are not working for {n} employees",
            "a deposit bounced back and nobody told us",
        ],
        impacts: &[
            "{name2} can't pay rent until this is sorted out.",
            "Late pay is the fastest way to lose good employees.",
            "My phone has not stopped ringing all morning.",
        ],
        praise: &[
            "tracking down {name2}'s deposit so fast",
            "deposits landing a day early now",
            "setting up pay cards for our crew",
        ],
    },
    TopicText {
        code: "year_end_forms",
        label: "W-2s and year-end forms",
        subjects: &[
            "W-2 correction",
            "Year-end forms",
            "1099s for contractors",
            "W-2 copy request",
            "Year-end checklist",
        ],
        actions: &[
            "get a copy of a W-2 for a former employee",
            "correct a W-2 after it was filed",
            "issue 1099s to our contractors",
            "find the year-end checklist",
            "update an address before W-2s go out",
        ],
        problems: &[
            "{name2}'s W-2 shows the wrong address",
            "the W-2s are missing the {state} state wages",
            "we can't find the 1099s for our contractors",
            "box 12 codes look wrong on several W-2s",
            "former employees never got their W-2 emails",
        ],
        impacts: &[
            "Employees can't file their taxes until they have correct forms.",
            "Our accountant needs these by the end of the week.",
        ],
        praise: &[
            "how painless year-end was this time",
            "sending the corrected W-2 the same day",
        ],
    },
    TopicText {
        code: "time_tracking",
        label: "time tracking",
        subjects: &[
            "Timesheets not importing",
            "Time clock app",
            "Overtime rules",
            "Missed punch",
            "Timesheet approvals",
        ],
        actions: &[
            "set up overtime rules for {state}",
            "fix a missed punch",
            "approve timesheets in bulk",
            "import hours from a spreadsheet",
            "set up a geofence for the time clock",
            "round punches to the nearest quarter hour",
        ],
        problems: &[
            "timesheets from last week did not import into payroll",
            "the time clock app logs people out during their shift",
            "overtime rules for {state} are not applying to approved timesheets",
            "managers can't approve timesheets on mobile",
            "punches from our {state} location are showing in the wrong time zone",
        ],
        impacts: &[
            "Our hourly staff will be underpaid if this isn't fixed before cutoff.",
            "Supervisors are writing hours on paper again.",
        ],
        praise: &[
            "the new mobile time clock, the crew likes it",
            "fixing the overtime rules before payroll",
        ],
    },
    TopicText {
        code: "user_access",
        label: "logins and permissions",
        subjects: &[
            "Locked out",
            "Permissions question",
            "SSO not working",
            "Password reset",
            "Admin access",
            "Two-factor codes",
        ],
        actions: &[
            "give our new bookkeeper access to reports only",
            "reset another admin's password",
            "remove a former manager's access",
            "turn on two-factor for everyone",
            "add a second admin",
            "let managers see only their own team",
        ],
        problems: &[
            "{name2} is locked out of the admin portal",
            "SSO through {sso} stopped working this morning",
            "our new HR manager can see salaries she should not see",
            "password reset emails are not arriving",
            "two-factor codes are not being sent",
            "a manager who left still has admin access",
        ],
        impacts: &[
            "Nobody on my team can run payroll while we're locked out.",
            "This is a security problem, not just an annoyance.",
        ],
        praise: &[
            "getting us back in so quickly",
            "the new permission settings, exactly what we needed",
        ],
    },
    TopicText {
        code: "reporting",
        label: "reports",
        subjects: &[
            "Report question",
            "Payroll register export",
            "Labor cost report",
            "Scheduled report",
            "Custom report help",
        ],
        actions: &[
            "build a report of overtime by department",
            "export the payroll register to Excel",
            "schedule a monthly headcount report",
            "see total employer taxes for the quarter",
            "add a custom field to a report",
            "share a report with our accountant",
        ],
        problems: &[
            "the payroll register export is missing the department column",
            "the labor cost report does not match the general ledger",
            "scheduled reports stopped arriving on {weekday}",
            "the headcount report counts terminated employees",
            "the report builder times out for anything over a month",
        ],
        impacts: &[
            "Our board meeting is {weekday} and I need these numbers.",
            "I'm rebuilding the report by hand in Excel every month.",
        ],
        praise: &[
            "the new report builder, it's a huge improvement",
            "helping me build the labor cost report",
        ],
    },
];

// ---------------------------------------------------------------------------
// Shared vocabularies.

const AGENTS: &[&str] = &[
    "Jess", "Marco", "Tina", "DeShawn", "Kelly", "Sam", "Ravi", "Monica", "Luis", "Hailey", "Tom",
    "Naomi",
];
const SYSTEMS: &[&str] = &[
    "QuickBooks",
    "NetSuite",
    "Xero",
    "Sage Intacct",
    "Greenhouse",
    "Deputy",
    "BambooHR",
    "Slack",
];
const SSO: &[&str] = &["Okta", "Google Workspace", "Azure AD", "OneLogin"];
const CARRIERS: &[&str] = &[
    "Blue Cross",
    "Aetna",
    "Cigna",
    "Kaiser",
    "Guardian",
    "MetLife",
    "UnitedHealthcare",
    "Humana",
];
const ORDINALS: &[&str] = &["first", "second", "third", "fourth", "fifth", "sixth"];
const TIMES: &[&str] = &[
    "once",
    "twice",
    "three times",
    "four times",
    "five times",
    "six times",
];

// Openers and closers by tone. Each is a full sentence or greeting.
const GREETINGS: &[&str] = &[
    "Hi,",
    "Hello,",
    "Hi team,",
    "Hi support,",
    "Good morning,",
    "Hey there,",
    "Hi {agent},",
    "Hello support team,",
];
const CONTEXT: &[&str] = &[
    "We're a {noun} with about {n_emp} employees.",
    "We run payroll {cadence}.",
    "This is for our {state} location.",
    "I'm the {role} at {company}.",
    "Our next pay date is {date}.",
    "We have employees in {state} and {state2}.",
];
const QUESTION_FRAMES: &[&str] = &[
    "How do I {a}?",
    "What's the right way to {a}?",
    "Is there a way to {a}?",
    "Can someone walk me through how to {a}?",
    "Where do I go to {a}?",
    "Quick one: how can we {a}?",
    "Do you have a guide on how to {a}?",
    "I'm trying to {a} but can't find where to do that.",
    "Could you point me to the steps to {a}?",
    "We need to {a}. What's the best way to do it?",
];
const DETAILS: &[&str] = &[
    "It affects {n} of our employees.",
    "This started after the update on {weekday}.",
    "We're on the {cadence} schedule.",
    "I attached a screenshot of what I'm seeing.",
    "It happens for our {state} employees only.",
    "Our payroll deadline is {weekday}.",
    "I tried logging out and back in.",
    "We didn't change anything on our side.",
];
const QUESTION_WHY: &[&str] = &[
    "We have a new employee starting {date}.",
    "Our accountant asked us to look into it.",
    "We're switching to a {cadence} schedule next month.",
    "We just opened a location in {state}.",
    "Our next payroll is due {weekday}, so I'd like to sort this out before then.",
    "One of our managers asked and I wasn't sure.",
    "I'm new to the admin role and still learning the system.",
];
const NEG_FEEL: &[&str] = &[
    "Really frustrating.",
    "Not happy.",
    "This is getting old.",
    "Pretty disappointed, honestly.",
    "This is the last thing we needed this week.",
    "I'm losing patience with this.",
];
const QUESTION_EXTRAS: &[&str] = &[
    "Is there a help article for this?",
    "We want to get it right before the next payroll.",
    "I looked in the help center but didn't see it.",
    "Happy to jump on a quick call if that's easier.",
    "We haven't done this before.",
];
const NEUTRAL_CLOSE: &[&str] = &[
    "Thanks.",
    "Thank you.",
    "Thanks in advance.",
    "Appreciate the help.",
    "Let me know if you need anything else from me.",
    "Any guidance is appreciated.",
    "Thanks for your help.",
    "Let me know what you find.",
];
const SIGNOFFS: &[&str] = &[
    "- {first}",
    "Thanks, {first}",
    "Best, {first}",
    "Regards, {first}",
    "{first} ({role}, {company})",
    "{first}",
];
const NEUTRAL_PROBLEM: &[&str] = &[
    "We noticed that {p}.",
    "It looks like {p}.",
    "For some reason {p}.",
    "As of this morning {p}.",
    "Heads up: {p}.",
    "Not sure if this is on our end, but {p}.",
    "One of our managers mentioned that {p}.",
];
const NEUTRAL_ASK: &[&str] = &[
    "Can you take a look?",
    "Could you check on your side?",
    "What do we need to do to fix it?",
    "Is this a known issue?",
    "Can you let us know what happened?",
    "Please advise.",
];
const NEG_OPEN_WEAK: &[&str] = &[
    "We have a problem.",
    "Not great news on our side.",
    "This is becoming a pattern.",
    "I'm not happy about this.",
    "Something is wrong again.",
    "We're having trouble again.",
];
const NEG_OPEN_STRONG: &[&str] = &[
    "I am extremely frustrated.",
    "This is completely unacceptable.",
    "Honestly, I'm fed up.",
    "This is really, really bad.",
    "WHY does this keep happening?",
    "I'm so disappointed right now.",
    "I am beyond frustrated with this.",
    "This is absolutely ridiculous.",
];
const NEG_PROBLEM: &[&str] = &[
    "{p}.",
    "{p}, again.",
    "Once again {p}.",
    "{p} and nobody warned us.",
    "{p} and it's still not resolved.",
    "We just found out {p}.",
    "{p}. This should never happen.",
];
const CONTRAST: &[&str] = &[
    "The new dashboard looks nice, but {p}.",
    "I like the product, but {p} again.",
    "Support used to be great, but lately {p}.",
    "The app itself is fine, but {p}.",
    "We were told this was fixed, but {p}.",
];
const NEG_IMPACT: &[&str] = &[
    "Our employees are upset and I'm the one taking the calls.",
    "This is costing us hours every {period}.",
    "My CFO is asking why we're paying for this.",
    "We can't keep doing manual workarounds.",
    "I don't have time to chase this.",
    "I really can't explain this to our team anymore.",
];
const NEG_CLOSE_WEAK: &[&str] = &[
    "Please look into it, this is not OK.",
    "Can someone actually get back to me today?",
    "This needs to be fixed.",
    "I need an update, not another canned reply.",
    "Please call me, email isn't working.",
    "Still waiting on an answer.",
    "I'm not happy with how long this is taking.",
    "This is not what we pay for.",
];
const NEG_CLOSE_STRONG: &[&str] = &[
    "Please escalate this!!!",
    "This is still not resolved!!!",
    "If this isn't fixed before the next payroll we will start looking at other providers.",
    "I want a call from a manager today.",
    "We are seriously reconsidering our contract.",
    "Not acceptable.",
    "Fix it. Now.",
    "Honestly, we're paying for a service that doesn't work.",
];
const NEG_EMOTICONS: &[&str] = &[":(", ":-(", "🙁", "😡", ">:(", "😤"];
const POS_EMOTICONS: &[&str] = &[":)", ":-)", "🙂", "👍", "😄", "😊"];
const NEG_QUESTION: &[&str] = &[
    "I've looked everywhere and still can't figure out how to {a}.",
    "Your help articles are useless. How do I {a}?",
    "Why is it so hard to {a}?",
    "I've asked before and never got an answer: how do I {a}?",
    "Nobody has been able to tell me how to {a}.",
];
const NEG_REQUEST: &[&str] = &[
    "We asked weeks ago for help to {a} and it still isn't done.",
    "For the {ordinal} time, we need to {a}.",
    "We still need to {a}, and nobody has followed up.",
];
const REQUEST: &[&str] = &[
    "We need to {a}. Can you help?",
    "Could someone help us {a} before {weekday}?",
    "Please help us {a}.",
    "Can you {a} for us, or tell me how?",
    "We'd like to {a} this month.",
];
const FOLLOW_NEG: &[&str] = &[
    "Following up on my ticket from {weekday}.",
    "This is my {ordinal} time reaching out about this.",
    "I've now explained this {times} and it's still not fixed.",
    "Still waiting on an answer here.",
    "Re-opening this because the problem is back.",
    "Nobody has gotten back to me since {weekday}.",
    "I had to explain this {times} already.",
    "Still not resolved.",
];
const FOLLOW_NEUTRAL: &[&str] = &[
    "Just checking on the status of this.",
    "Any update on this one?",
    "Following up on my earlier message about {label}.",
    "Circling back on this.",
    "Checking in on the ticket I opened {weekday}.",
];
const FOLLOW_POS: &[&str] = &[
    "Quick follow-up: it's working now, thank you so much!",
    "Just confirming everything looks good now. Thanks!",
    "All sorted on our end, thanks for sticking with it.",
];
const RESTATE: &[&str] = &[
    "The issue: {p}.",
    "To recap, {p}.",
    "Again, {p}.",
    "Same problem as before: {p}.",
];
const POS_OPEN: &[&str] = &[
    "Hope you're all doing well!",
    "First of all, thank you!",
    "Quick note of thanks.",
    "Love the platform so far!",
    "Things have been going great on our side.",
    "You all have been great this year.",
];
const POS_SMALL: &[&str] = &[
    "Everything has been great, just one small thing:",
    "No big deal, but",
    "Small one for you:",
];
const POS_CLOSE: &[&str] = &[
    "Thanks so much!",
    "Really appreciate it!",
    "You guys are great.",
    "Keep up the great work.",
    "Thanks again, this made my week!",
    "Thank you, you've been super helpful.",
];
const PRAISE: &[&str] = &[
    "Thank you for {praise}.",
    "Huge thanks to {agent} for {praise}.",
    "Just wanted to say thanks for {praise}.",
    "Big shout-out to your team for {praise}.",
    "{agent} was fantastic, thanks for {praise}.",
];

// Chats: informal lines, the customer's side of the conversation.
const CHAT_HELLO: &[&str] = &[
    "hi,",
    "hello!",
    "hey there,",
    "hi!",
    "good morning!",
    "hey,",
];
const CHAT_Q: &[&str] = &[
    "quick question - how do I {a}?",
    "is there a way to {a}?",
    "how can I {a}?",
    "where do I go to {a}?",
    "I need to {a}. where is that?",
    "can you help me {a}?",
];
const CHAT_Q_NEG: &[&str] = &[
    "been trying for an hour, how do I {a}?? this should not be this hard",
    "still can't figure out how to {a}. nothing works",
    "why can't I {a}??",
    "your help center is useless. how do I {a}?",
];
const CHAT_P: &[&str] = &[
    "{p}. can you check?",
    "it looks like {p}. could you take a look?",
    "{p}. is that on your end?",
    "{p}, any idea why?",
    "not sure what happened but {p}",
];
const CHAT_P_NEG: &[&str] = &[
    "{p}. again. this is still not resolved",
    "seriously, {p}!!! need help now",
    "hello?? {p} and nobody is answering",
    "{p}. this is a mess",
    "not ok. {p}",
    "{p} and I've been waiting 40 minutes for someone to pick this up",
];
const CHAT_FOLLOW: &[&str] = &[
    "still waiting on this...",
    "any update?? this is the {ordinal} time I'm asking",
    "is anyone there? still not fixed",
    "checking again. nobody has gotten back to me",
    "back again about the same thing",
];
const CHAT_FOLLOW_NEUTRAL: &[&str] = &[
    "hi, any update on my {label} question?",
    "just checking on the ticket from {weekday}",
    "following up on this",
    "hi again - any news on this one?",
];
const CHAT_DETAIL: &[&str] = &[
    "it's for {n} employees",
    "we run payroll {cadence}",
    "this is for our {state} location",
    "payroll is due {weekday}",
    "I'm the {role} here",
];
const CHAT_THANKS: &[&str] = &["thanks", "thanks!", "thank you", "ty", "thx"];
const CHAT_POS: &[&str] = &[
    "thanks, that fixed it!",
    "perfect, thank you {agent}!",
    "you're the best, thanks!!",
    "awesome, that worked",
    "great, thanks for the quick help",
    "oh nice, that was easy. thank you!",
];
const CHAT_POS_MORE: &[&str] = &[
    "{agent} was super helpful",
    "{agent} sorted out the {label} thing in five minutes",
    "huge help with {label}, thank you",
    "that was exactly what I needed for {label}",
    "we're all set for {payday} now",
    "really appreciate how fast you answered",
    "honestly the best support chat I've used",
    "love how simple this is now",
    "that saves me so much time every {period}",
];

// Call notes, written by the agent with the customer's words quoted.
const CALL_OPEN: &[&str] = &[
    "Call with {first} ({role}).",
    "Inbound call from {first}, {role}.",
    "Spoke with {first} ({role}) at {company}.",
    "{first} called.",
];
const CALL_Q: &[&str] = &[
    "Asked how to {a}. Walked them through it and sent the help article.",
    "Wanted to know how to {a}; screen-shared and showed the steps.",
    "Question about how to {a}. Answered on the call.",
];
const CALL_P: &[&str] = &[
    "Reported that {p}. Opened a case with tier 2 and will follow up by {weekday}.",
    "Said {p}. Reproduced it and logged a bug.",
    "Reported that {p}. Fixed a setting on the call and asked them to confirm after the next run.",
];
const CALL_NEG: &[&str] = &[
    "Customer is upset: {p}. Escalated to the payroll operations team.",
    "Very frustrated that {p}. Promised a callback from a manager by {weekday}.",
    "Angry call: {p}. Apologized and escalated.",
    "{ordinal} call about the same issue ({label}): {p}. Escalated.",
];
const CALL_QUOTES_NEG: &[&str] = &[
    "Quote: \"This is the third time I'm calling about the same thing.\"",
    "Quote: \"We're looking at other providers.\"",
    "Said \"nobody ever calls me back\".",
    "Quote: \"I don't understand what we're paying for.\"",
    "Said their employees are furious.",
    "Quote: \"I'm done explaining this.\"",
    "Mentioned their contract is up soon and they are not happy.",
];
const CALL_POS: &[&str] = &[
    "Called to say thanks for {praise}.",
    "Happy call: thanked us for {praise}.",
    "Checked in after {praise}; very positive.",
];
const CALL_POS_EXTRA: &[&str] = &[
    "Mentioned they may add another location next year.",
    "Asked about the enterprise plan features.",
    "Said they recommend us to other business owners.",
    "Quote: \"Best support we've had from any vendor.\"",
];

// Survey comments.
const NPS_PROMOTER: &[&str] = &[
    "Great product and the support team is always quick.",
    "Payroll takes minutes now. Would recommend!",
    "{agent} is amazing.",
    "Easy to use, everyone on our team likes it.",
    "Reliable, simple, and support actually answers.",
    "Best payroll provider we've used.",
];
const NPS_PASSIVE: &[&str] = &[
    "It does the job, but reporting could be better.",
    "Mostly fine. Support can be slow.",
    "Good product, a bit pricey.",
    "OK overall, some bugs with {label}.",
    "Works for us. Nothing special.",
    "Decent, but the mobile app needs work.",
];
const NPS_DETRACT: [&[&str]; 6] = [
    // Price
    &[
        "Too expensive for what we get, especially after the price increase.",
        "The price increase is hard to justify.",
        "We're paying more every year and getting less.",
    ],
    // Support
    &[
        "Support is slow and issues take weeks to resolve.",
        "We've had payroll errors three times this year.",
        "Still not resolved after a month!!!",
        "Nobody returns my calls.",
    ],
    // Adoption
    &[
        "We barely use most of the features.",
        "Too complicated, our managers don't use it.",
        "Not worth it for how little we use it.",
    ],
    // Relationship
    &[
        "We never hear from our account manager.",
        "Nobody at your company seems to know who we are.",
        "Since our contact left, nobody checks in.",
    ],
    // General
    &[
        "Not worth it.",
        "Disappointed overall.",
        "Too many problems this year.",
    ],
    // Competitor
    &[
        "We're looking at other providers.",
        "Another payroll provider offered us a better package.",
        "Evaluating alternatives before our renewal.",
        "Honestly considering a switch.",
    ],
];
const CSAT_COMMENTS: [&[&str]; 5] = [
    &[
        "Terrible. Still not resolved!!!",
        "Nobody actually read my ticket.",
        "Third time asking, no real answer.",
        "Waste of time.",
    ],
    &[
        "Slow response. Still not sure it's fixed.",
        "Took way too long.",
        "Had to explain the issue {times}.",
    ],
    &[
        "It's fixed, but it took a while.",
        "OK, but I had to explain the issue twice.",
        "Fine.",
    ],
    &[
        "Good help, took a little while.",
        "Resolved, thanks.",
        "Helpful answer.",
    ],
    &[
        "Fast and friendly, thank you!",
        "Solved in one call, great job {agent}.",
        "Super helpful!",
        "Perfect, thanks {agent}!",
    ],
];

// ---------------------------------------------------------------------------
// Assembly.

fn pick<'t>(rng: &mut impl Rng, list: &'t [&'t str]) -> &'t str {
    list[rng.gen_range(0..list.len())]
}

/// A deterministic choice fixed by the thread: the same across follow-ups.
fn fixed<T: Copy>(thread: u64, salt: u64, list: &[T]) -> T {
    list[(mix(thread, salt) % list.len() as u64) as usize]
}

fn persona_role(persona: Persona, thread: u64) -> &'static str {
    let roles: &[&str] = match persona {
        Persona::Admin => &["payroll admin", "HR admin", "office manager"],
        Persona::Champion => &["HR manager", "People Ops lead", "HR director"],
        Persona::ExecutiveSponsor => &["CFO", "COO", "owner", "VP of People"],
        Persona::Billing => &["controller", "bookkeeper", "accounts payable lead"],
        Persona::EndUser => &["team lead", "shift manager", "employee"],
    };
    fixed(thread, 11, roles)
}

fn all_states() -> impl Iterator<Item = &'static str> {
    REGIONS.iter().flat_map(|r| r.states.iter().copied())
}

impl Msg<'_> {
    fn label(&self) -> &'static str {
        self.topic.text().label
    }

    /// Writes one slot's value.
    fn slot(&self, name: &str, out: &mut String) {
        let t = self.thread;
        match name {
            "state" => out.push_str(fixed(t, 1, self.ctx.states)),
            "state2" => {
                let first = fixed(t, 1, self.ctx.states);
                let n = all_states().count() as u64;
                let mut i = mix(t, 2) % n;
                let mut s = all_states().nth(i as usize).unwrap_or("Texas");
                if s == first {
                    i = (i + 1) % n;
                    s = all_states().nth(i as usize).unwrap_or("Texas");
                }
                out.push_str(s);
            }
            "n" => {
                let cap = self.ctx.n_emp.clamp(2, 40) as u64;
                let _ = write!(out, "{}", 2 + mix(t, 3) % (cap - 1));
            }
            "n_emp" => {
                let _ = write!(out, "{}", self.ctx.n_emp.max(1));
            }
            "payday" => match mix(t, 4) % 4 {
                0 => out.push_str("Friday"),
                1 => out.push_str("the 15th"),
                2 => out.push_str("the 1st"),
                _ => cal::push_spoken(out, self.day - (mix(t, 5) % 6) as Day),
            },
            "date" => cal::push_spoken(out, self.day + 3 + (mix(t, 6) % 20) as Day),
            "month" => {
                let (_, m, _) = cal::civil(self.day - 20);
                out.push_str(cal::MONTHS[m as usize - 1]);
            }
            "name2" => out.push_str(fixed(t, 7, FIRST_NAMES)),
            "agent" => out.push_str(fixed(t, 8, AGENTS)),
            "system" => out.push_str(fixed(t, 9, SYSTEMS)),
            "sso" => out.push_str(fixed(t, 10, SSO)),
            "carrier" => out.push_str(fixed(t, 12, CARRIERS)),
            "amount" => {
                let v = 120 + mix(t, 13) % 4_000;
                if v >= 1_000 {
                    let _ = write!(out, "${},{:03}", v / 1_000, v % 1_000);
                } else {
                    let _ = write!(out, "${v}");
                }
            }
            "weekday" => out.push_str(fixed(t, 14, &cal::WEEKDAYS[..5])),
            "ordinal" => out.push_str(ORDINALS[(self.ordinal.max(2) as usize - 1).min(5)]),
            "times" => out.push_str(TIMES[(self.ordinal.max(2) as usize - 1).min(5)]),
            "cadence" => out.push_str(self.ctx.cadence),
            "company" => out.push_str(self.ctx.company),
            "first" => out.push_str(self.first),
            "role" => out.push_str(persona_role(self.persona, t)),
            "label" => out.push_str(self.label()),
            "noun" => out.push_str(self.ctx.noun),
            "period" => out.push_str(fixed(t, 15, &["week", "pay period", "month"])),
            "p" => self.put(fixed(t, 16, self.topic.text().problems), out),
            "a" => self.put(fixed(t, 17, self.topic.text().actions), out),
            "praise" => self.put(fixed(t, 18, self.topic.text().praise), out),
            _ => debug_assert!(false, "unknown slot {name}"),
        }
    }

    /// Appends a template with its slots filled.
    fn put(&self, tpl: &str, out: &mut String) {
        let mut rest = tpl;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let Some(j) = rest[i..].find('}') else {
                break;
            };
            self.slot(&rest[i + 1..i + j], out);
            rest = &rest[i + j + 1..];
        }
        out.push_str(rest);
    }

    /// Appends a template as a sentence: a separating space, and a capital
    /// first letter.
    fn sentence(&self, tpl: &str, out: &mut String) {
        separate(out);
        let start = out.len();
        self.put(tpl, out);
        capitalize(out, start);
    }

    /// Appends a template as a chat line: a separating space, no
    /// capitalization.
    fn line(&self, tpl: &str, out: &mut String) {
        separate(out);
        self.put(tpl, out);
    }

    /// Praise is positive whatever the account's mood.
    fn effective_tone(&self) -> Tone {
        if self.intent == Intent::Praise {
            Tone::Positive
        } else {
            self.tone
        }
    }

    /// Strong feelings: "!!!" on the last sentence and sometimes an emoticon.
    fn intensify(&self, rng: &mut impl Rng, out: &mut String) {
        if !self.strong {
            if rng.gen_bool(0.08) {
                self.emoticon(rng, out);
            }
            return;
        }
        if rng.gen_bool(0.5) && out.ends_with('.') {
            out.pop();
            out.push_str(if self.effective_tone() == Tone::Negative {
                "!!!"
            } else {
                "!!"
            });
        }
        if rng.gen_bool(0.4) {
            self.emoticon(rng, out);
        }
    }

    fn emoticon(&self, rng: &mut impl Rng, out: &mut String) {
        let list = match self.effective_tone() {
            Tone::Negative => NEG_EMOTICONS,
            Tone::Positive => POS_EMOTICONS,
            Tone::Neutral => return,
        };
        out.push(' ');
        out.push_str(pick(rng, list));
    }
}

/// Ends an unpunctuated chat line with a period, then adds a space.
fn separate(out: &mut String) {
    if out.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        out.push('.');
    }
    if !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
}

fn capitalize(out: &mut String, start: usize) {
    if let Some(c) = out[start..].chars().next()
        && c.is_ascii_lowercase()
    {
        let mut buf = [0u8; 4];
        let upper: &str = c.to_ascii_uppercase().encode_utf8(&mut buf);
        out.replace_range(start..start + 1, upper);
    }
}

/// Writes the subject line of a message.
pub(crate) fn write_subject(m: &Msg<'_>, rng: &mut impl Rng, out: &mut String) {
    let base_start = out.len();
    match m.channel {
        Channel::Chat | Channel::Call => {
            out.push_str(if m.channel == Channel::Chat {
                "Chat: "
            } else {
                "Call: "
            });
            let s = out.len();
            out.push_str(m.label());
            capitalize(out, s);
            return;
        }
        Channel::Ticket | Channel::Email => {}
    }
    if m.ordinal > 1 {
        out.push_str(if m.ordinal > 2 { "Re: Re: " } else { "Re: " });
    } else if m.tone == Tone::Negative && m.strong && rng.gen_bool(0.5) {
        out.push_str(pick(
            rng,
            &["URGENT: ", "Still broken: ", "[Escalation] ", "URGENT - "],
        ));
    }
    let s = out.len();
    m.put(fixed(m.thread, 19, m.topic.text().subjects), out);
    capitalize(out, s);
    if m.tone == Tone::Negative && m.strong && m.ordinal > 2 && rng.gen_bool(0.3) {
        out.push_str(" - STILL NOT FIXED");
    }
    debug_assert!(out.len() > base_start);
}

/// Writes the body of a message.
pub(crate) fn write_body(m: &Msg<'_>, rng: &mut impl Rng, out: &mut String) {
    match m.channel {
        Channel::Chat => chat(m, rng, out),
        Channel::Call => call(m, rng, out),
        Channel::Ticket | Channel::Email => ticket(m, rng, out),
    }
}

fn ticket(m: &Msg<'_>, rng: &mut impl Rng, out: &mut String) {
    let greet_p = if m.channel == Channel::Email {
        0.85
    } else {
        0.65
    };
    if rng.gen_bool(greet_p) && !(m.tone == Tone::Negative && m.strong && rng.gen_bool(0.5)) {
        m.sentence(pick(rng, GREETINGS), out);
    }
    match (m.intent, m.effective_tone()) {
        (Intent::Question, Tone::Neutral) => {
            if rng.gen_bool(0.55) {
                m.sentence(pick(rng, CONTEXT), out);
            }
            m.sentence(pick(rng, QUESTION_FRAMES), out);
            if rng.gen_bool(0.5) {
                m.sentence(pick(rng, QUESTION_WHY), out);
            }
            if rng.gen_bool(0.35) {
                m.sentence(pick(rng, QUESTION_EXTRAS), out);
            }
            if rng.gen_bool(0.7) {
                m.sentence(pick(rng, NEUTRAL_CLOSE), out);
            }
        }
        (Intent::Question, Tone::Negative) => {
            if m.strong && rng.gen_bool(0.5) {
                m.sentence(pick(rng, NEG_OPEN_STRONG), out);
            }
            m.sentence(pick(rng, NEG_QUESTION), out);
            if rng.gen_bool(0.4) {
                m.sentence(pick(rng, NEG_FEEL), out);
            }
            if rng.gen_bool(0.4) {
                m.sentence(pick(rng, NEG_IMPACT), out);
            }
            neg_close(m, rng, out);
        }
        (Intent::Question, Tone::Positive) => {
            m.sentence(pick(rng, POS_OPEN), out);
            m.sentence(pick(rng, QUESTION_FRAMES), out);
            m.sentence(pick(rng, POS_CLOSE), out);
            m.intensify(rng, out);
        }
        (Intent::Problem, Tone::Neutral) => {
            m.sentence(pick(rng, NEUTRAL_PROBLEM), out);
            if rng.gen_bool(0.6) {
                m.sentence(pick(rng, DETAILS), out);
            }
            if rng.gen_bool(0.3) {
                m.sentence(pick(rng, CONTEXT), out);
            }
            m.sentence(pick(rng, NEUTRAL_ASK), out);
            if rng.gen_bool(0.5) {
                m.sentence(pick(rng, NEUTRAL_CLOSE), out);
            }
        }
        (Intent::Problem, Tone::Negative) => {
            if rng.gen_bool(0.15) {
                m.sentence(pick(rng, CONTRAST), out);
            } else {
                if rng.gen_bool(0.6) {
                    let list = if m.strong {
                        NEG_OPEN_STRONG
                    } else {
                        NEG_OPEN_WEAK
                    };
                    m.sentence(pick(rng, list), out);
                }
                m.sentence(pick(rng, NEG_PROBLEM), out);
            }
            if rng.gen_bool(0.4) {
                m.sentence(pick(rng, DETAILS), out);
            }
            if rng.gen_bool(0.5) {
                m.sentence(pick(rng, NEG_FEEL), out);
            }
            if rng.gen_bool(0.6) {
                if rng.gen_bool(0.6) {
                    m.sentence(pick(rng, m.topic.text().impacts), out);
                } else {
                    m.sentence(pick(rng, NEG_IMPACT), out);
                }
            }
            neg_close(m, rng, out);
        }
        (Intent::Problem, Tone::Positive) => {
            m.sentence(pick(rng, POS_SMALL), out);
            out.push(' ');
            m.put("{p}.", out);
            m.sentence("No rush!", out);
            m.sentence(pick(rng, POS_CLOSE), out);
        }
        (Intent::Request, Tone::Negative) => {
            m.sentence(pick(rng, NEG_REQUEST), out);
            if rng.gen_bool(0.5) {
                m.sentence(pick(rng, NEG_FEEL), out);
            }
            neg_close(m, rng, out);
        }
        (Intent::Request, tone) => {
            if tone == Tone::Positive {
                m.sentence(pick(rng, POS_OPEN), out);
            } else if rng.gen_bool(0.5) {
                m.sentence(pick(rng, CONTEXT), out);
            }
            m.sentence(pick(rng, REQUEST), out);
            let close = if tone == Tone::Positive {
                POS_CLOSE
            } else {
                NEUTRAL_CLOSE
            };
            m.sentence(pick(rng, close), out);
        }
        (Intent::FollowUp, Tone::Negative) => {
            m.sentence(pick(rng, FOLLOW_NEG), out);
            m.sentence(pick(rng, RESTATE), out);
            if rng.gen_bool(0.5) {
                m.sentence(pick(rng, m.topic.text().impacts), out);
            }
            neg_close(m, rng, out);
        }
        (Intent::FollowUp, Tone::Neutral) => {
            m.sentence(pick(rng, FOLLOW_NEUTRAL), out);
            if rng.gen_bool(0.7) {
                m.sentence(pick(rng, RESTATE), out);
            }
            if rng.gen_bool(0.3) {
                m.sentence(pick(rng, DETAILS), out);
            }
            m.sentence(pick(rng, NEUTRAL_CLOSE), out);
        }
        (Intent::FollowUp, Tone::Positive) => {
            m.sentence(pick(rng, FOLLOW_POS), out);
            m.intensify(rng, out);
        }
        (Intent::Praise, _) => {
            if rng.gen_bool(0.5) {
                m.sentence(pick(rng, POS_OPEN), out);
            }
            m.sentence(pick(rng, PRAISE), out);
            m.sentence(pick(rng, POS_CLOSE), out);
            m.intensify(rng, out);
        }
    }
    if rng.gen_bool(0.55) {
        m.sentence(pick(rng, SIGNOFFS), out);
    }
}

fn neg_close(m: &Msg<'_>, rng: &mut impl Rng, out: &mut String) {
    let list = if m.strong {
        NEG_CLOSE_STRONG
    } else {
        NEG_CLOSE_WEAK
    };
    m.sentence(pick(rng, list), out);
    m.intensify(rng, out);
}

fn chat(m: &Msg<'_>, rng: &mut impl Rng, out: &mut String) {
    let tone = m.effective_tone();
    match (m.intent, tone) {
        (Intent::Praise, _) | (_, Tone::Positive) => {
            m.line(pick(rng, CHAT_POS), out);
            if rng.gen_bool(0.8) {
                m.line(pick(rng, CHAT_POS_MORE), out);
            }
            m.intensify(rng, out);
            return;
        }
        (Intent::FollowUp, Tone::Negative) => {
            m.line(pick(rng, CHAT_FOLLOW), out);
            if rng.gen_bool(0.85) {
                m.line("{p}", out);
            }
        }
        (Intent::FollowUp, _) => {
            m.line(pick(rng, CHAT_FOLLOW_NEUTRAL), out);
            if rng.gen_bool(0.5) {
                m.line("it's about this: {p}", out);
            }
        }
        (Intent::Question | Intent::Request, Tone::Negative) => {
            m.line(pick(rng, CHAT_Q_NEG), out);
        }
        (Intent::Problem, Tone::Negative) => m.line(pick(rng, CHAT_P_NEG), out),
        (Intent::Question | Intent::Request, _) => {
            if rng.gen_bool(0.6) {
                m.line(pick(rng, CHAT_HELLO), out);
            }
            m.line(pick(rng, CHAT_Q), out);
        }
        (Intent::Problem, _) => {
            if rng.gen_bool(0.6) {
                m.line(pick(rng, CHAT_HELLO), out);
            }
            m.line(pick(rng, CHAT_P), out);
        }
    }
    if tone == Tone::Negative {
        if rng.gen_bool(0.6) {
            m.sentence(pick(rng, NEG_IMPACT), out);
        }
        m.intensify(rng, out);
    } else {
        if rng.gen_bool(0.5) {
            m.line(pick(rng, CHAT_DETAIL), out);
        }
        if rng.gen_bool(0.6) {
            m.line(pick(rng, CHAT_THANKS), out);
        }
    }
}

fn call(m: &Msg<'_>, rng: &mut impl Rng, out: &mut String) {
    m.sentence(pick(rng, CALL_OPEN), out);
    match (m.intent, m.effective_tone()) {
        (Intent::Praise, _) | (_, Tone::Positive) => {
            m.sentence(pick(rng, CALL_POS), out);
            if rng.gen_bool(0.4) {
                m.sentence(pick(rng, CALL_POS_EXTRA), out);
            }
        }
        (_, Tone::Negative) => {
            m.sentence(pick(rng, CALL_NEG), out);
            if rng.gen_bool(0.7) {
                m.sentence(pick(rng, CALL_QUOTES_NEG), out);
            }
        }
        (Intent::Question | Intent::Request, Tone::Neutral) => {
            if rng.gen_bool(0.4) {
                m.sentence(pick(rng, CONTEXT), out);
            }
            m.sentence(pick(rng, CALL_Q), out);
        }
        (Intent::Problem | Intent::FollowUp, Tone::Neutral) => {
            if m.intent == Intent::FollowUp {
                m.sentence("Follow-up call on the open case.", out);
            }
            m.sentence(pick(rng, CALL_P), out);
        }
    }
}

/// Writes an NPS comment for a score, naming the driver that weighs most.
pub(crate) fn write_nps_comment(
    m: &Msg<'_>,
    score: i64,
    driver: Driver,
    rng: &mut impl Rng,
    out: &mut String,
) {
    let list: &[&str] = if score >= 9 {
        NPS_PROMOTER
    } else if score >= 7 {
        NPS_PASSIVE
    } else {
        let i = match driver {
            Driver::Price => 0,
            Driver::Support => 1,
            Driver::Adoption => 2,
            Driver::Relationship => 3,
            Driver::General => 4,
            Driver::Competitor => 5,
        };
        // The stated reason is not always the real one.
        if rng.gen_bool(0.75) {
            NPS_DETRACT[i]
        } else {
            NPS_DETRACT[rng.gen_range(0..NPS_DETRACT.len())]
        }
    };
    m.sentence(pick(rng, list), out);
    if score <= 3 && rng.gen_bool(0.3) {
        out.push(' ');
        out.push_str(pick(rng, NEG_EMOTICONS));
    } else if score >= 9 && rng.gen_bool(0.3) {
        out.push(' ');
        out.push_str(pick(rng, POS_EMOTICONS));
    }
}

/// Writes a CSAT survey comment for a 1-5 score.
pub(crate) fn write_csat_comment(m: &Msg<'_>, score: i64, rng: &mut impl Rng, out: &mut String) {
    let i = (score.clamp(1, 5) - 1) as usize;
    m.sentence(pick(rng, CSAT_COMMENTS[i]), out);
    if i == 0 && rng.gen_bool(0.3) {
        out.push(' ');
        out.push_str(pick(rng, NEG_EMOTICONS));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    const KNOWN: &[&str] = &[
        "state", "state2", "n", "n_emp", "payday", "date", "month", "name2", "agent", "system",
        "sso", "carrier", "amount", "weekday", "ordinal", "times", "cadence", "company", "first",
        "role", "label", "noun", "period", "p", "a", "praise",
    ];

    fn slots_of(tpl: &str) -> Vec<&str> {
        let mut v = Vec::new();
        let mut rest = tpl;
        while let Some(i) = rest.find('{') {
            let j = rest[i..].find('}').expect("closed slot");
            v.push(&rest[i + 1..i + j]);
            rest = &rest[i + j + 1..];
        }
        v
    }

    #[test]
    fn every_template_uses_known_slots() {
        let mut lists: Vec<&[&str]> = vec![
            GREETINGS,
            CONTEXT,
            QUESTION_FRAMES,
            QUESTION_EXTRAS,
            NEUTRAL_CLOSE,
            SIGNOFFS,
            NEUTRAL_PROBLEM,
            NEUTRAL_ASK,
            NEG_OPEN_WEAK,
            NEG_OPEN_STRONG,
            NEG_PROBLEM,
            CONTRAST,
            NEG_IMPACT,
            NEG_CLOSE_WEAK,
            NEG_CLOSE_STRONG,
            NEG_QUESTION,
            NEG_REQUEST,
            REQUEST,
            FOLLOW_NEG,
            FOLLOW_NEUTRAL,
            FOLLOW_POS,
            RESTATE,
            POS_OPEN,
            POS_SMALL,
            POS_CLOSE,
            PRAISE,
            DETAILS,
            QUESTION_WHY,
            NEG_FEEL,
            CHAT_HELLO,
            CHAT_Q,
            CHAT_Q_NEG,
            CHAT_P,
            CHAT_P_NEG,
            CHAT_FOLLOW,
            CHAT_FOLLOW_NEUTRAL,
            CHAT_DETAIL,
            CHAT_THANKS,
            CHAT_POS,
            CHAT_POS_MORE,
            CALL_OPEN,
            CALL_Q,
            CALL_P,
            CALL_NEG,
            CALL_QUOTES_NEG,
            CALL_POS,
            CALL_POS_EXTRA,
            NPS_PROMOTER,
            NPS_PASSIVE,
        ];
        lists.extend(NPS_DETRACT);
        lists.extend(CSAT_COMMENTS);
        for t in &TOPICS {
            lists.extend([t.subjects, t.actions, t.problems, t.impacts, t.praise]);
        }
        for list in lists {
            assert!(!list.is_empty());
            for tpl in list {
                for s in slots_of(tpl) {
                    assert!(KNOWN.contains(&s), "unknown slot {{{s}}} in {tpl:?}");
                }
            }
        }
        for (i, t) in Topic::ALL.iter().enumerate() {
            assert_eq!(*t as usize, i);
            assert!(!t.code().is_empty());
        }
    }

    #[test]
    fn messages_vary_and_read_like_their_tone() {
        let ctx = Ctx {
            company: "Cedar Ridge Dental",
            states: &["Ohio", "Indiana"],
            cadence: "biweekly",
            n_emp: 42,
            noun: "clinic",
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut seen = HashSet::new();
        let mut lens = Vec::new();
        let (mut neg_cues, mut pos_cues) = (0, 0);
        let (mut n_neg, mut n_pos) = (0, 0);
        let intents = [
            Intent::Question,
            Intent::Problem,
            Intent::Request,
            Intent::FollowUp,
            Intent::Praise,
        ];
        let channels = [
            Channel::Ticket,
            Channel::Email,
            Channel::Chat,
            Channel::Call,
        ];
        for i in 0..3_000u64 {
            let tone = [Tone::Negative, Tone::Neutral, Tone::Positive][(i % 3) as usize];
            let intent = intents[(i / 36 % 5) as usize];
            // Praise is always positive, whatever the tone asked for.
            let tone = if intent == Intent::Praise {
                Tone::Positive
            } else {
                tone
            };
            let m = Msg {
                topic: Topic::ALL[(i / 3 % 12) as usize],
                tone,
                strong: i % 7 == 0,
                intent,
                channel: channels[(i / 180 % 4) as usize],
                persona: Persona::Admin,
                ordinal: 1 + (i % 4) as u32,
                thread: mix(99, i),
                ctx: &ctx,
                first: "Dana",
                day: 20_000,
            };
            let mut body = String::new();
            write_body(&m, &mut rng, &mut body);
            let mut subject = String::new();
            write_subject(&m, &mut rng, &mut subject);
            assert!(!subject.is_empty());
            assert!(!body.contains('{') && !body.contains('}'), "{body}");
            assert!(!body.contains("  "), "{body:?}");
            lens.push(body.len());
            let lower = body.to_lowercase();
            let neg = [
                "not ",
                "n't",
                "still",
                "frustrat",
                "unacceptable",
                "!!!",
                "upset",
                "never",
                "nobody",
                "useless",
                "why ",
                "again",
                "angry",
                "waiting",
                "disappoint",
                "losing",
                "escalat",
                "furious",
                "same issue",
                "same problem",
                "costing",
                "time reaching",
            ]
            .iter()
            .any(|c| lower.contains(c));
            let pos = ["thank", "great", "love", "appreciate", "awesome"]
                .iter()
                .any(|c| lower.contains(c));
            match tone {
                Tone::Negative => {
                    n_neg += 1;
                    neg_cues += usize::from(neg);
                }
                Tone::Positive => {
                    n_pos += 1;
                    pos_cues += usize::from(pos);
                }
                Tone::Neutral => {}
            }
            seen.insert(body);
        }
        assert!(seen.len() > 2_700, "only {} distinct bodies", seen.len());
        lens.sort_unstable();
        let median = lens[lens.len() / 2];
        assert!((90..=320).contains(&median), "median length {median}");
        assert!(
            neg_cues * 10 > n_neg * 9,
            "negative cues in {neg_cues} of {n_neg}"
        );
        assert!(
            pos_cues * 10 > n_pos * 8,
            "positive cues in {pos_cues} of {n_pos}"
        );
    }
}
