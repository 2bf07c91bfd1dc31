"""Hand-written sentences of three research segments, each with its true section.

``make_sets.py`` draws the labelled sets from these pools with a fixed seed; the pools are
the ground truth that ``key.json`` records for each set.
"""

GOAL, PAIN, BEHAVIOUR, NONE = "goal", "pain_point", "behaviour", "none"

SEGMENTS = {
    "Warehouse shift lead": {
        GOAL: [
            "I want the pick lists to reach the scanners before the shift starts.",
            "My goal is to get the late orders out without calling people back in.",
            "Ideally the dock schedule would update itself when a truck is running late.",
            "I'd love to see which aisle is blocked without walking the whole floor.",
            "We need one screen that shows every pallet waiting for a label.",
            "I'm trying to cut the time new pickers spend learning the bin codes.",
            "It would be great if returns went straight back into stock counts.",
            "I always wish the scanners could just print the missing labels themselves.",
            "What I want is a handover note that writes itself at the end of the shift.",
            "I hope we can stop re-counting the fast movers every single week.",
        ],
        PAIN: [
            "Honestly the handheld scanners freeze when the wifi drops near the freezers.",
            "The label printer jams twice a shift and nobody knows how to clear it.",
            "It's frustrating when the system says a bin is full and it is empty.",
            "Half the pick lists arrive after the trucks are already at the door.",
            "The stock counts never match what is actually on the shelves.",
            "I lose the first hour of every shift chasing missing pallets.",
            "The dock screen is so slow that we write the schedule on a whiteboard.",
            "New starters get confused by the bin codes and pick the wrong items.",
            "When a truck is late the whole plan falls apart and I can't see it coming.",
            "Packing falls behind because the scale and the printer don't talk to each other.",
        ],
        BEHAVIOUR: [
            "Every morning I walk the aisles before the pickers arrive.",
            "I usually keep a paper list of the fast movers in my pocket.",
            "At the start of each shift I check the dock board and the overnight returns.",
            "We always do a five minute huddle by the packing benches.",
            "I normally reassign pickers by radio when an aisle gets blocked.",
            "Most days I print the late orders and hand them out myself.",
            "On Fridays I count the fast movers with two of the pickers.",
            "I tend to call the carrier directly rather than wait for the portal.",
            "Every night I copy the handover notes into the shift log.",
            "I often move pallets to the overflow bay before the afternoon wave.",
        ],
        NONE: [
            "I have run the night shift at the north depot for six years.",
            "There are about forty pickers on my shift.",
            "We moved into the new building last spring.",
            "The depot ships mostly grocery and household goods.",
            "My manager sits at the other site.",
            "We have two docks for inbound and three for outbound.",
        ],
    },
    "Freelance designer": {
        GOAL: [
            "I want to send a client one link with the invoice and the final files.",
            "My goal is to spend Fridays designing instead of chasing payments.",
            "Ideally each project would keep its briefs, drafts and feedback in one place.",
            "I'd like clients to approve a draft without a long email thread.",
            "I need a simple way to track hours per project without a timer app.",
            "I'm trying to raise my day rate without losing the regular clients.",
            "It would be nice if my portfolio updated when a project is signed off.",
            "I really want to know which clients pay late before I take the job.",
            "What I'd love is a contract template that fills in the client details.",
            "I hope to book work two months ahead instead of two weeks.",
        ],
        PAIN: [
            "Chasing late invoices eats a whole day every month.",
            "Clients send feedback over email, chat and voice notes, and I lose track of it.",
            "It's annoying that every client wants a different file format.",
            "I hate redoing the same mockup because the brief changed halfway.",
            "The invoicing tool charges a fee on every payment, which hurts on small jobs.",
            "Version names like final-final-v3 make it hard to find the approved draft.",
            "Quoting a new project takes forever because I start from scratch.",
            "When a client goes quiet for weeks my whole schedule is a guess.",
            "Tax time is painful because receipts are spread across three apps.",
            "My design files get too big to email and the links expire.",
        ],
        BEHAVIOUR: [
            "Every Monday I plan the week's projects in a notebook.",
            "I usually send invoices on the last day of the month.",
            "I always export a PDF and a PNG of each draft for the client.",
            "I keep a spreadsheet of every client with their rates and payment days.",
            "Most evenings I answer client emails after the kids are asleep.",
            "I tend to batch small design jobs on Thursday afternoons.",
            "Every quarter I go through my receipts for the accountant.",
            "I normally record a short video walking the client through a draft.",
            "After each project I ask the client for a testimonial.",
            "I often sketch on paper before I open the design software.",
        ],
        NONE: [
            "I went freelance about four years ago after working at an agency.",
            "Most of my clients are small restaurants and shops.",
            "I work from a shared studio three days a week.",
            "My partner does the bookkeeping for her own business too.",
            "I studied illustration before I moved into branding.",
            "A typical project is a logo, a menu and a few social posts.",
        ],
    },
    "Clinic practice manager": {
        GOAL: [
            "I want patients to confirm their appointments without a phone call.",
            "My goal is to fill cancelled slots the same morning.",
            "Ideally the rota would show which nurse covers which room.",
            "I'd like the reminder texts to go out in the patient's own language.",
            "We need to see the waiting list and the free slots side by side.",
            "I'm trying to get the receptionists off the phones at opening time.",
            "It would be helpful if referral letters arrived attached to the booking.",
            "I really want one report of no-shows per doctor each month.",
            "What we'd love is for repeat prescriptions to be requested online.",
            "I hope the new system lets patients reschedule by themselves.",
        ],
        PAIN: [
            "The phones ring non-stop from eight until ten and patients give up.",
            "No-shows cost us about a dozen appointments every week.",
            "It's frustrating when the booking system double-books the treatment room.",
            "Referral letters come by fax and get lost in the pile.",
            "The rota lives in a spreadsheet that only I can edit.",
            "Reminder texts go out so late that patients have already forgotten.",
            "Cancelled slots stay empty because calling the waiting list takes too long.",
            "Staff struggle with the booking screen and make mistakes under pressure.",
            "Patients complain that they can't reach anyone at lunchtime.",
            "Month-end reports take me a full afternoon to put together by hand.",
        ],
        BEHAVIOUR: [
            "Every morning I check the day's bookings against the rota.",
            "I usually call the waiting list myself when a slot opens up.",
            "We always print the next day's list before we close.",
            "At lunchtime I cover the front desk so the receptionists can eat.",
            "I normally update the rota on Thursday for the following week.",
            "Most weeks I meet the senior nurse to go over the no-shows.",
            "I tend to answer the practice inbox first thing, before the doors open.",
            "Every month I send the partners a summary of appointments and no-shows.",
            "I keep a folder of referral letters that still need a booking.",
            "We often move routine check-ups to the afternoon when the morning fills.",
        ],
        NONE: [
            "The practice has six doctors and four nurses.",
            "I have managed the clinic for eleven years.",
            "We serve about nine thousand registered patients.",
            "The building used to be a bank.",
            "Two of our receptionists job-share.",
            "We are part of a group of three practices in the town.",
        ],
    },
}

CONTEXT_PAIRS = {
    # A sentence starting with a pronoun that needs the sentence before it.
    "Warehouse shift lead": (
        "The overnight returns sit on the dock until someone books them in.",
        "That means the morning counts are wrong before we even start.",
        PAIN,
    ),
    "Freelance designer": (
        "Some clients pay within a week and some take three months.",
        "It makes planning anything beyond next month a gamble.",
        PAIN,
    ),
    "Clinic practice manager": (
        "Patients can book online, but only for routine check-ups.",
        "It covers maybe a fifth of our appointments.",
        NONE,
    ),
}

NEAR_DUPLICATES = {
    # The same meaning in almost the same words, said by different participants.
    "Warehouse shift lead": (
        "I want the pick lists to reach the scanners before the shift starts.",
        "I want the pick lists to reach the scanners before my shift starts.",
    ),
    "Freelance designer": (
        "Chasing late invoices eats a whole day every month.",
        "Chasing late invoices eats a whole day every single month.",
    ),
    "Clinic practice manager": (
        "Every morning I check the day's bookings against the rota.",
        "Every morning I check the day's bookings against the rota first.",
    ),
}

SHARED = {
    # Said in every segment: the product, not the job, so no help in telling segments apart.
    GOAL: [
        "I want the app to remember where I left off.",
        "I'd like to get notifications only for things that need me.",
        "Ideally it would work on my phone as well as on the laptop.",
    ],
    PAIN: [
        "The app logs me out every few days and I have to find the password again.",
        "Notifications pile up until I just ignore all of them.",
        "Search never finds anything unless you type the exact name.",
    ],
    BEHAVIOUR: [
        "I usually keep the app open in a tab all day.",
        "Every week I clear out the notifications on a Monday.",
        "I always check my messages on the bus on the way in.",
    ],
    NONE: [
        "We started using the app about a year ago.",
        "My team got a training session when we switched over.",
    ],
}
