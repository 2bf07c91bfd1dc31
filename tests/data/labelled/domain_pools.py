# ruff: noqa: E501 (one sentence per line, as people said them)
"""Hand-written sentences of five research domains, each segment's with its true section.

Unlike ``pools.py`` these were written without the local synthesizer's cue phrases in view,
and the segments of one domain talk about the same things (appointments, invoices,
homework, licences, applications) from different seats. ``short`` holds the clipped answers
people type into a survey box. ``make_domain_sets.py`` draws the sets from them.
"""

from pools import BEHAVIOUR, GOAL, NONE, PAIN

__all__ = ["BEHAVIOUR", "GOAL", "NONE", "PAIN"]

HEALTH = {
    "Ward nurse": {
        GOAL: [
            "I need the drug chart and the handover sheet on the same screen.",
            "What I really want is to see which patients are due for obs without opening every record.",
            "It would help a lot if discharge letters were drafted before the consultant's round ends.",
            "I'd like the bed board to tell me when pharmacy has actually sent the meds up.",
            "Give me a way to flag a deteriorating patient that the night team cannot miss.",
            "I wish I could print a clean handover list for agency staff in one click.",
        ],
        PAIN: [
            "Logging in to three systems at the start of a shift eats twenty minutes.",
            "The obs machine doesn't talk to the record, so I type every blood pressure twice.",
            "Agency nurses can't get a login on their first night, so they work off my notes.",
            "Discharges stall for hours because the letter sits in someone's inbox.",
            "The alerts go off so often that people have stopped listening to them.",
            "I still don't know who is supposed to chase a missing prescription on a weekend.",
        ],
        BEHAVIOUR: [
            "At handover I go bed by bed with the outgoing nurse and a printed list.",
            "I keep a folded sheet in my tunic pocket with every patient's due times.",
            "Before the round I check the bloods that came back overnight.",
            "Most shifts I ring pharmacy myself rather than wait for the tube system.",
            "I write the key points on the whiteboard by the station so the healthcare assistants see them.",
            "Every couple of hours I walk the bay and do the obs in one go.",
        ],
        NONE: [
            "I've been on the respiratory ward for nine years.",
            "We run twenty-eight beds with six nurses on a good night.",
            "Our trust moved to the new record system two winters ago.",
        ],
    },
    "Patient with a long-term condition": {
        GOAL: [
            "I want to order my repeat prescription without ringing the surgery at eight in the morning.",
            "It would be lovely to see my blood results myself instead of waiting for a letter.",
            "I'd like one person at the practice who actually knows my history.",
            "What I need is a reminder a week before my inhaler runs out.",
            "I'd pay for an app that kept all my appointments across the hospital and the surgery in one list.",
            "Ideally I could send a photo of my rash instead of taking a morning off work.",
        ],
        PAIN: [
            "Getting through on the phone at eight is like winning the lottery.",
            "Every new doctor asks me to explain my whole history again from the start.",
            "The hospital and the surgery never seem to have the same list of my medicines.",
            "The online booking only ever shows appointments three weeks away.",
            "Letters from the clinic arrive after the appointment they are telling me about.",
            "I never know whether my results are normal or whether nobody has looked at them yet.",
        ],
        BEHAVIOUR: [
            "I keep a notebook with every medicine change and who made it.",
            "I usually ring the pharmacy first to check my prescription has arrived.",
            "Every January I book all my check-ups for the year at once.",
            "I set an alarm on my phone for my evening tablets.",
            "Before an appointment I write my questions on the back of an envelope.",
            "My daughter logs into the app for me when I need to book something.",
        ],
        NONE: [
            "I was diagnosed with diabetes about twelve years ago.",
            "I live on my own since my husband passed.",
            "The surgery is a bus ride from my house.",
        ],
    },
    "Practice receptionist": {
        GOAL: [
            "I want the phones to hold people in a queue that tells them where they are.",
            "It would save us so much if repeat prescription requests came in through one form.",
            "I'd love a screen that shows which doctor is running late so I can warn the waiting room.",
            "We need a way to send a booking link by text instead of reading slots down the phone.",
            "What I'd like is for the hospital letters to land in the right patient's record automatically.",
            "I want new staff to learn the booking rules without sitting next to me for a month.",
        ],
        PAIN: [
            "From eight until half past, every line is ringing and people are shouting at us.",
            "Patients get angry at the desk when the app showed them a slot that was already gone.",
            "Scanning the hospital letters takes most of my afternoon.",
            "The booking system has so many appointment types that even I pick the wrong one.",
            "I can't tell from the screen whether a prescription request has been signed yet.",
            "Nobody told us whether the new triage form replaces the phone line or not.",
        ],
        BEHAVIOUR: [
            "First thing I release the same-day slots and watch them disappear.",
            "I keep a sticky note of which doctors will take an extra patient.",
            "Every afternoon I scan and file the letters from the hospital.",
            "I usually ring back the older patients myself rather than send a text.",
            "On Mondays we go through the list of missed appointments and send reminders.",
            "I check the prescription tray twice a day and chase the doctors who haven't signed.",
        ],
        NONE: [
            "I've worked on the front desk here for four years.",
            "We have about eleven thousand patients on the list.",
            "There are three of us on reception most mornings.",
        ],
    },
}

HEALTH_SHORT = {
    "Ward nurse": {
        GOAL: [
            "One login for everything.",
            "Obs straight into the record.",
            "Cleaner handover sheets.",
        ],
        PAIN: ["Too many alerts.", "Typing obs twice.", "Agency staff locked out."],
        BEHAVIOUR: ["Paper list in my pocket.", "Bed by bed handover.", "Ring pharmacy myself."],
    },
    "Patient with a long-term condition": {
        GOAL: ["See my own results.", "Repeat prescriptions online.", "Same doctor each time."],
        PAIN: ["Phone queue at 8am.", "Repeating my history.", "Letters come too late."],
        BEHAVIOUR: ["Notebook of my meds.", "Alarm for tablets.", "Book check-ups in January."],
    },
    "Practice receptionist": {
        GOAL: ["A proper call queue.", "Booking links by text.", "Letters filed automatically."],
        PAIN: [
            "Angry callers at 8.",
            "Scanning letters all afternoon.",
            "Confusing appointment types.",
        ],
        BEHAVIOUR: [
            "Release same-day slots first.",
            "Sticky note of extras.",
            "Chase unsigned scripts.",
        ],
    },
}

FINANCE = {
    "Sole trader": {
        GOAL: [
            "I want to snap a receipt in the van and never think about it again.",
            "I need to know how much to put aside for tax each month.",
            "What I'd like is an invoice that goes out the minute I finish a job.",
            "It would be brilliant if the bank told me when a customer had actually paid.",
            "I'd happily pay for something that did my self-assessment from my bank feed.",
            "Ideally I'd quote, invoice and get paid from my phone on site.",
        ],
        PAIN: [
            "Half my receipts fade or get lost in the glovebox before I log them.",
            "Chasing customers who haven't paid is the worst part of the job.",
            "The tax bill in January always comes as a nasty surprise.",
            "The accounting app is too complicated for what I need.",
            "My personal and business spending are all mixed up in one account.",
            "I still don't understand what I'm allowed to claim for the van.",
        ],
        BEHAVIOUR: [
            "I do my invoices on a Sunday night at the kitchen table.",
            "I keep every receipt in a shoebox until my accountant asks for them.",
            "Most jobs I take a bank transfer, some older customers still pay cash.",
            "I text customers a reminder a week after the invoice goes out.",
            "Once a quarter I sit down with a spreadsheet and total everything up.",
            "I move a bit into a savings pot whenever a big job pays.",
        ],
        NONE: [
            "I'm a plumber, mostly boilers and bathrooms.",
            "I've been self-employed for about seven years.",
            "My wife helps with the paperwork sometimes.",
        ],
    },
    "Bookkeeper": {
        GOAL: [
            "I want clients to send me their receipts in a way I don't have to retype.",
            "I need the bank feeds for all my clients reconciled in one place.",
            "What I'd love is for the software to suggest the right category from last year's coding.",
            "It would help if I could see every client's VAT deadline on one calendar.",
            "I'd like to give clients a simple view of their cash without them breaking anything.",
            "I want to bill my clients for the hours I actually spend, not a guess.",
        ],
        PAIN: [
            "Clients send me photos of receipts on WhatsApp at eleven at night.",
            "Bank feeds drop out and I only notice when the reconciliation is off.",
            "Every client codes things differently, so I spend hours fixing categories.",
            "The VAT return is always a rush because the last receipts arrive late.",
            "Switching between twenty client files is painfully slow.",
            "I can't tell which client has seen my questions and which has ignored them.",
        ],
        BEHAVIOUR: [
            "I reconcile each client's bank on the same day every week.",
            "I keep a spreadsheet of deadlines for every client next to the software.",
            "Before a VAT return I send each client a list of unexplained transactions.",
            "I usually recode the first month of a new client by hand.",
            "Every month I export a profit and loss and email it with a short note.",
            "I block out Friday afternoons for chasing missing paperwork.",
        ],
        NONE: [
            "I look after about thirty small businesses.",
            "I trained as an accounts clerk before going freelance.",
            "Most of my clients are trades and shops in town.",
        ],
    },
    "Household budgeter": {
        GOAL: [
            "I want to see what's left for the month after the bills have gone out.",
            "I'd love to know which subscriptions we're still paying for and never use.",
            "We need a shared budget that both of us can see on our phones.",
            "What I want is a warning before a direct debit would take us overdrawn.",
            "It would be nice to put money aside for Christmas without having to think about it.",
            "I'd like to compare our energy bills with last year's without digging through emails.",
        ],
        PAIN: [
            "Bills come out on different days so I never know what we can actually spend.",
            "The banking app only shows me a list of transactions, no totals.",
            "We got charged twice for a streaming service and didn't notice for months.",
            "Budgeting apps want access to everything and that makes me nervous.",
            "Splitting costs with my partner always ends in an argument about who paid what.",
            "I'm never sure whether the overdraft fee was fair or a mistake.",
        ],
        BEHAVIOUR: [
            "On payday I move money into separate pots for bills, food and fun.",
            "I keep a spreadsheet of every direct debit with the date it leaves.",
            "Every Sunday I check the balance and plan the week's food shop.",
            "I usually pay for big things on the credit card and clear it in full.",
            "We sit down at the start of each month and go through the bank statement together.",
            "I write down cash spending in a notes app so it doesn't disappear.",
        ],
        NONE: [
            "We're a family of four in a rented flat.",
            "I work part-time at a school office.",
            "My partner is paid weekly and I'm paid monthly.",
        ],
    },
}

FINANCE_SHORT = {
    "Sole trader": {
        GOAL: [
            "Invoice from my phone.",
            "Know my tax bill early.",
            "Receipts sorted automatically.",
        ],
        PAIN: ["Late payers.", "Lost receipts.", "January tax shock."],
        BEHAVIOUR: ["Invoices on Sunday night.", "Shoebox of receipts.", "Text payment reminders."],
    },
    "Bookkeeper": {
        GOAL: [
            "All client feeds in one place.",
            "Smarter auto-categories.",
            "One deadline calendar.",
        ],
        PAIN: ["Receipts on WhatsApp.", "Bank feeds dropping.", "Slow switching between clients."],
        BEHAVIOUR: ["Weekly reconciliation.", "Deadline spreadsheet.", "Friday chasing session."],
    },
    "Household budgeter": {
        GOAL: [
            "See what's left this month.",
            "Find unused subscriptions.",
            "Shared budget with partner.",
        ],
        PAIN: ["Bills on random days.", "No totals in the bank app.", "Double charges unnoticed."],
        BEHAVIOUR: ["Pots on payday.", "Direct debit spreadsheet.", "Sunday balance check."],
    },
}

EDUCATION = {
    "Secondary teacher": {
        GOAL: [
            "I want to set homework once and have it appear for every class that needs it.",
            "It would help to see at a glance which students haven't handed anything in for a fortnight.",
            "I'd like marking comments I can reuse across a set of essays.",
            "What I need is a seating plan that carries the notes about each student with it.",
            "I wish reports could pull the grades I've already entered instead of me typing them again.",
            "I want to message a parent without giving out my own email address.",
        ],
        PAIN: [
            "Entering the same grade into the markbook and the reporting system wastes my evenings.",
            "The homework portal logs me out every time I switch between classes.",
            "Students say they couldn't see the task, and I can't prove whether it was visible.",
            "Report season is brutal because every comment has to be written from scratch.",
            "Parents email at all hours and expect an answer before first period.",
            "I still don't know whether I'm allowed to share recordings of lessons with absent students.",
        ],
        BEHAVIOUR: [
            "I plan the week's lessons on Sunday afternoon and upload the slides then.",
            "I keep a paper markbook as well, because I trust it more.",
            "At the end of each lesson I take a photo of the board and post it for absent students.",
            "I usually mark in batches of ten with a cup of tea between them.",
            "Every half term I ring the parents of the students who are falling behind.",
            "Before parents' evening I print a one-page summary for each student.",
        ],
        NONE: [
            "I teach history to years nine to thirteen.",
            "I've been teaching for eleven years, the last four at this school.",
            "Our school has about twelve hundred students.",
        ],
    },
    "Parent": {
        GOAL: [
            "I want one place that tells me what homework is due this week for both kids.",
            "It would be great to hear about a problem before it turns into a detention.",
            "I'd like to book parents' evening slots without getting up at midnight when they open.",
            "What I want is a plain-English explanation of what the grades actually mean.",
            "I need to pay for trips and lunches without topping up three different accounts.",
            "I'd love a way to tell the school my son is ill without waiting on hold.",
        ],
        PAIN: [
            "Every subject uses a different app, so I can never see the whole week.",
            "The grades are codes like 5+ and W and nobody has explained them to me.",
            "By the time we hear about missing homework it's already a detention.",
            "The parents' evening slots are all gone within an hour of opening.",
            "Messages from school get buried among the newsletters and trip letters.",
            "I'm never sure whether my daughter's teacher actually read my email.",
        ],
        BEHAVIOUR: [
            "Every Sunday evening I sit with my son and go through his planner.",
            "I check the school app on the bus home from work.",
            "I keep a list on the fridge of what each child needs for PE and cooking.",
            "I usually email the form tutor rather than the subject teacher.",
            "We pay for lunches once a month and I set a reminder to top up.",
            "Most mornings I ask my daughter what she has on that day.",
        ],
        NONE: [
            "I have two children, one in year seven and one in year ten.",
            "I work shifts at the hospital, so evenings are hard.",
            "We moved to the area two years ago.",
        ],
    },
}

B2B = {
    "IT administrator": {
        GOAL: [
            "I want new starters to have every account ready on their first morning.",
            "I need to see who is holding a licence they haven't used in ninety days.",
            "What I'd like is single sign-on for every tool, with no exceptions.",
            "It would save me hours if leavers were switched off everywhere from one screen.",
            "I want an audit log I can hand to the auditors without cleaning it up first.",
            "I'd like changes to permissions to go through an approval instead of a chat message.",
        ],
        PAIN: [
            "Every team buys its own tool on a credit card and I find out at renewal.",
            "Offboarding someone means logging into fourteen admin consoles.",
            "The vendor's admin panel hides the licence count three menus deep.",
            "Permissions are so granular that nobody understands who can see what.",
            "Renewals arrive with a price rise and thirty days' notice.",
            "I can't tell whether the sync with our directory has actually finished.",
        ],
        BEHAVIOUR: [
            "Every Monday I run a report of accounts that haven't logged in for a month.",
            "I keep a spreadsheet of every tool, its owner and its renewal date.",
            "New requests come to me as tickets and I batch them on Thursday.",
            "I usually test a new integration in a sandbox tenant before switching it on.",
            "At the end of each quarter I reclaim unused licences and reassign them.",
            "I script most of the onboarding steps and run them by hand for the rest.",
        ],
        NONE: [
            "I'm one of two people in IT for about three hundred staff.",
            "We moved to the cloud directory last year.",
            "Most of the company works in sales and support.",
        ],
    },
    "Sales representative": {
        GOAL: [
            "I want my call notes to land in the CRM without typing them up afterwards.",
            "I need to see a customer's open support tickets before I ring them.",
            "What I want is a quote I can send from my phone while I'm still in the meeting.",
            "It would be great if the pipeline report built itself for Monday's meeting.",
            "I'd love reminders for renewals that come with the customer's usage attached.",
            "I want discount approvals in minutes, not days.",
        ],
        PAIN: [
            "Updating the CRM after every call takes longer than the call itself.",
            "Discount approvals sit with my manager for days and the customer goes cold.",
            "I can't see the customer's licence usage, so I walk into renewals blind.",
            "The mobile app is too slow to use between meetings.",
            "Quotes have to go through finance and come back with the wrong prices.",
            "Nobody tells me when a customer has raised a complaint with support.",
        ],
        BEHAVIOUR: [
            "I type my notes into my phone in the car park after each meeting.",
            "Every Friday I update the pipeline so my manager stops asking.",
            "I keep my own spreadsheet of renewals because I don't trust the CRM dates.",
            "Before a call I look the company up on LinkedIn and read their latest news.",
            "I usually send the quote myself as a PDF and log it later.",
            "Most mornings I block an hour for follow-up emails.",
        ],
        NONE: [
            "I cover accounts in the north and Scotland.",
            "I've been in software sales for six years.",
            "My patch is mostly mid-sized manufacturers.",
        ],
    },
    "Finance controller": {
        GOAL: [
            "I want every software subscription visible in one list with its real cost.",
            "I need purchase orders approved before anyone signs a contract.",
            "It would help if invoices from vendors matched the licence counts we agreed.",
            "What I'd like is a forecast of renewals for the next twelve months.",
            "I want discount approvals to follow a rule instead of whoever shouts loudest.",
            "I'd like to see spend by department without exporting three reports.",
        ],
        PAIN: [
            "Subscriptions bought on personal cards turn up in expense claims months later.",
            "Vendor invoices never match the licence numbers we actually use.",
            "Month end is a scramble because sales logs deals late.",
            "The approval chain is so confusing that people skip it.",
            "Renewals auto-renew before anyone has checked whether we still need them.",
            "I'm never certain the numbers in the CRM match what we invoiced.",
        ],
        BEHAVIOUR: [
            "At month end I reconcile the card statements against the approved subscriptions.",
            "I keep a renewals calendar and check it every fortnight.",
            "Every quarter I meet each department head to go through their spend.",
            "I usually reject purchase requests that come without a business case.",
            "I export the CRM deals into a spreadsheet before invoicing.",
            "I always ask for a second quote on anything over ten thousand.",
        ],
        NONE: [
            "I report to the chief financial officer.",
            "We close the books on the fifth working day.",
            "The company has grown from fifty to three hundred people in four years.",
        ],
    },
}

B2B_SHORT = {
    "IT administrator": {
        GOAL: ["Single sign-on everywhere.", "One-click offboarding.", "Unused licence report."],
        PAIN: ["Shadow IT purchases.", "Fourteen admin consoles.", "Confusing permissions."],
        BEHAVIOUR: [
            "Monday inactive-account report.",
            "Tool spreadsheet.",
            "Thursday ticket batch.",
        ],
    },
    "Sales representative": {
        GOAL: [
            "Notes straight into the CRM.",
            "Quotes from my phone.",
            "Faster discount approval.",
        ],
        PAIN: ["CRM updates take forever.", "Blind renewals.", "Slow mobile app."],
        BEHAVIOUR: ["Notes in the car park.", "Friday pipeline update.", "My own renewals sheet."],
    },
    "Finance controller": {
        GOAL: [
            "All subscriptions in one list.",
            "POs before contracts.",
            "Twelve-month renewal forecast.",
        ],
        PAIN: [
            "Personal card subscriptions.",
            "Invoices don't match licences.",
            "Month-end scramble.",
        ],
        BEHAVIOUR: [
            "Month-end card reconciliation.",
            "Renewals calendar.",
            "Quarterly spend reviews.",
        ],
    },
}

PUBLIC = {
    "Resident applying for support": {
        GOAL: [
            "I want to apply for the council tax reduction without printing anything.",
            "I need to know where my housing application is up to.",
            "It would help to upload my payslips once and have every department see them.",
            "What I'd like is one named person to speak to about my case.",
            "I'd love a text when something changes instead of a letter a week later.",
            "I want to fill the form in Polish and have it understood.",
        ],
        PAIN: [
            "The form timed out after forty minutes and I lost everything.",
            "I've sent the same bank statements three times to three different teams.",
            "Nobody answers the phone and the chat bot just sends me back to the website.",
            "The letter said I owed money but didn't say why or how much.",
            "The website is too confusing to find which form is the right one.",
            "I still don't know if my application was received or lost.",
        ],
        BEHAVIOUR: [
            "I fill in forms at the library because I don't have a computer at home.",
            "I keep every letter from the council in a plastic folder.",
            "My neighbour usually helps me with anything online.",
            "I ring first thing on a Monday because that's when you get through.",
            "I take photos of every document before I post it.",
            "I go to the advice centre on Wednesdays when they do drop-in sessions.",
        ],
        NONE: [
            "I live with my two children in a housing association flat.",
            "I work nights at a warehouse.",
            "English is my second language.",
        ],
    },
    "Council caseworker": {
        GOAL: [
            "I want to see everything a resident has sent us in one record.",
            "I need the form to reject incomplete applications before they reach my queue.",
            "What I'd like is to message residents from the case system instead of my own phone.",
            "It would help to know which cases are close to the legal deadline.",
            "I'd like evidence documents checked for readability when they're uploaded.",
            "I want residents to see their case status without ringing us.",
        ],
        PAIN: [
            "Half the applications arrive without the documents we need.",
            "Residents ring five times a day asking about the same case.",
            "The case system and the benefits system don't share anything, so I copy by hand.",
            "Blurry photos of payslips mean I have to write and ask again.",
            "My queue is so long that cases go past the deadline before I open them.",
            "I never know whether a letter we sent actually reached the resident.",
        ],
        BEHAVIOUR: [
            "Every morning I sort my queue by deadline and start with the oldest.",
            "I keep a list of residents who need a phone call instead of a letter.",
            "I usually copy the key details into a notes field so I don't have to open the documents again.",
            "Once a week I go through cases waiting on evidence and chase them.",
            "I print the complicated cases and take them to the team meeting.",
            "I call the advice centre when a resident has someone helping them.",
        ],
        NONE: [
            "I've worked in the housing team for five years.",
            "Our team covers the whole borough with nine caseworkers.",
            "We handle about four hundred new applications a month.",
        ],
    },
    "Advice centre volunteer": {
        GOAL: [
            "I want a checklist of documents for each council form I can hand to people.",
            "It would help if we could see a client's case status with their permission.",
            "What I need is a direct number for the housing team that actually gets answered.",
            "I'd like the forms to save progress so people can come back next week.",
            "I want printed versions of the forms for clients who will never go online.",
            "I'd love training on the new benefits rules before they come in.",
        ],
        PAIN: [
            "Clients arrive with a letter they don't understand and no reference number.",
            "The online form can't be saved, so we have to finish it in one sitting.",
            "We spend most of the session waiting on hold to the council.",
            "The rules change so often that our leaflets are out of date.",
            "Some clients can't get a verification code because they have no mobile.",
            "I can't tell whether a client's application is stuck or just slow.",
        ],
        BEHAVIOUR: [
            "I go through each client's post with them at the start of the session.",
            "I keep a binder of the council's forms and which documents each one needs.",
            "We usually fill the forms in together on the centre's laptop.",
            "I write the reference number on the client's folder every time.",
            "Every month I check the council website for changes and update our leaflets.",
            "I make the phone calls on speaker so the client can hear.",
        ],
        NONE: [
            "I volunteer two days a week at the advice centre.",
            "I was a bank clerk before I retired.",
            "We see about thirty people on a drop-in day.",
        ],
    },
}

PUBLIC_SHORT = {
    "Resident applying for support": {
        GOAL: ["Know where my application is.", "Upload documents once.", "Texts not letters."],
        PAIN: ["Form timed out.", "Sending the same papers again.", "Nobody answers."],
        BEHAVIOUR: ["Forms at the library.", "Folder of letters.", "Monday morning calls."],
    },
    "Council caseworker": {
        GOAL: ["Everything in one record.", "Block incomplete forms.", "Deadline warnings."],
        PAIN: ["Missing documents.", "Repeat calls.", "Copying between systems."],
        BEHAVIOUR: ["Sort queue by deadline.", "Weekly evidence chase.", "Notes field summaries."],
    },
    "Advice centre volunteer": {
        GOAL: ["Document checklists.", "Forms that save.", "A number that gets answered."],
        PAIN: ["On hold all session.", "Outdated leaflets.", "No mobile for codes."],
        BEHAVIOUR: ["Go through the post.", "Binder of forms.", "Calls on speaker."],
    },
}

INTERVIEWER_PROMPTS = (
    "Can you walk me through a typical week?",
    "What gets in the way?",
    "If you could change one thing, what would it be?",
    "How do you handle that today?",
    "Tell me more about that.",
    "What happened the last time?",
)
