"""Words users say for genres, situations and rules. Constants only; matching lives in instructions.py.

Regular expressions are written for case-folded text and matched on word boundaries.
"""

from __future__ import annotations

FILM = r"(?:movies?|films?|flicks?|stuff|shows?|content|fare|pictures?|ones)"

# Case-folded catalog genre -> surface patterns (besides the genre's own name and plural).
GENRE_SURFACES: dict[str, tuple[str, ...]] = {
    "action": (r"action(?:[- ]packed)?", r"shoot[- ]?'?em[- ]?ups?", r"explosions?"),
    "adventure": (r"adventures?", r"adventurous"),
    "animation": (r"animat(?:ion|ed)", r"cartoons?", r"anime", r"pixar[- ]style"),
    "children's": (
        r"children'?s",
        rf"kids'? {FILM}",
        rf"kid[- ]friendly(?: {FILM})?",
        rf"family[- ]friendly(?: {FILM})?",
        rf"family {FILM}",
        rf"kiddie {FILM}",
    ),
    "comedy": (r"comed(?:y|ies)", r"comedic", r"funny", r"humou?rous", r"laugh[- ]out[- ]loud"),
    "crime": (r"crime", r"gangsters?", rf"mob {FILM}", r"mafia", r"heists?"),
    "documentary": (r"documentar(?:y|ies)", r"docs", r"docos?", r"docus?"),
    "drama": (r"dramas?", r"dramatic", r"tear[- ]?jerkers?"),
    "fantasy": (r"fantas(?:y|ies)", r"fantastical", r"sword[- ]and[- ]sorcery"),
    "film-noir": (r"film[- ]noirs?", r"noirs?"),
    "horror": (r"horror", r"scary", r"slashers?", r"frightening", r"terrifying", r"spooky", r"creepy"),
    "musical": (r"musicals?", r"song[- ]and[- ]dance"),
    "mystery": (r"myster(?:y|ies)", r"whodunn?its?", rf"detective {FILM}", r"detective stories"),
    "romance": (r"romance", r"romances", r"romantic", r"love stor(?:y|ies)", r"rom[- ]?coms?"),
    "sci-fi": (r"sci[- ]?fi", r"science[- ]fiction", r"scifi", rf"space {FILM}"),
    "thriller": (r"thrillers?", r"suspense(?:ful)?"),
    "war": (rf"war {FILM}", r"war", r"military"),
    "western": (r"westerns?", r"cowboys?(?: {FILM})?"),
}

_KID = (
    r"(?:kids?|children|child|son|daughter|little ones?|toddlers?|grandkids|grandchildren|nephews?|nieces?|boys|girls)"
)
_PARTNER = r"(?:wife|husband|girlfriend|boyfriend|partner|spouse|fianc[eé]e?|significant other|other half|bf|gf)"
_PARENT = r"(?:parents|mom|mum|dad|mother|father|grandparents|grandma|grandpa|granny|in-laws)"
_FRIENDS = r"(?:friends|buddies|mates|pals|the guys|the girls|the gang|roommates?|flatmates?|colleagues|coworkers)"
_POSS = r"(?:my|the|our|a few|some)"
_PRESENT = r"(?:around|over|here|home|watching|with me|in the room|awake|present|visiting|joining)"

# Canonical situation -> trigger patterns. A request or instruction mentioning a trigger is in that situation.
SCOPE_TRIGGERS: dict[str, tuple[str, ...]] = {
    "kids": (
        rf"(?:with|for|around|in front of|alongside) {_POSS}? ?{_KID}\b(?! {FILM})",
        rf"{_POSS} {_KID} (?:is|are|'s|'re) {_PRESENT}",
        rf"{_KID} (?:is|are) {_PRESENT}",
    ),
    "partner": (
        rf"(?:with|for) {_POSS} {_PARTNER}\b",
        r"date[- ]nights?",
        r"on a date",
        rf"{_POSS} {_PARTNER} (?:is|are|'s) {_PRESENT}",
    ),
    "friends": (
        rf"(?:with|for) {_POSS}? ?{_FRIENDS}\b",
        rf"{_FRIENDS} (?:are |come )?over",
        r"(?:movie|film) night with (?:friends|the guys|the girls)",
    ),
    "parents": (
        rf"(?:with|for) {_POSS} {_PARENT}\b",
        rf"{_POSS} {_PARENT} (?:is|are|'s|'re) {_PRESENT}",
    ),
    "family": (r"(?:with|for) (?:my|the|our) (?:whole )?family\b", r"family (?:movie |film )?nights?"),
    "alone": (r"\balone\b", r"by myself", r"on my own", r"\bsolo\b", r"just me"),
    "late": (r"late(?: at)? nights?", r"before (?:bed|sleep)", r"\bbedtime\b", r"after midnight", r"can'?t sleep"),
    "weekend": (r"weekends?", r"saturdays?", r"sundays?"),
    "weeknight": (r"weeknights?", r"weekdays?", r"after work", r"school nights?", r"work nights?"),
    "down": (
        r"(?:i'?m|i am|feeling|i feel|i'?m feeling) (?:sad|down|blue|depressed|low|upset|stressed|miserable)",
        r"(?:a |had a )?(?:bad|rough|tough|hard) day",
        r"(?:need|want) (?:some )?cheering up",
    ),
    "tired": (r"(?:i'?m|i am|feeling|i feel|i'?m feeling) (?:tired|exhausted|sleepy|worn out|wiped|drained)",),
    "holiday": (r"christmas", r"xmas", r"holidays?", r"thanksgiving", r"new year'?s"),
    "travel": (r"on (?:a |the )?(?:plane|flight|train)s?", r"\bflying\b", r"travell?ing", r"long flights?"),
}

# Situations that are explicitly absent in a request ("the kids are asleep") - they cancel the trigger.
SCOPE_NEGATIONS: dict[str, tuple[str, ...]] = {
    "kids": (
        rf"without {_POSS}? ?{_KID}",
        rf"{_KID} (?:is|are|'s|'re) (?:asleep|in bed|away|at school|out|gone|not here|not home|not around|at (?:their|a) \w+'?s?)",
        rf"no {_KID}\b",
        rf"once {_POSS} {_KID} (?:is|are|'s|'re|go|goes|went) (?:asleep|to bed|in bed|out)",
        rf"after {_POSS} {_KID} (?:go|goes|went|are|is) (?:to bed|asleep|in bed)",
    ),
    "partner": (rf"without {_POSS} {_PARTNER}", rf"{_POSS} {_PARTNER} (?:is|are|'s) (?:away|out|not here|not home)"),
    "friends": (rf"without {_POSS}? ?{_FRIENDS}",),
    "parents": (rf"without {_POSS} {_PARENT}", rf"{_POSS} {_PARENT} (?:is|are|'s|'re) (?:gone|away|not here)"),
    "family": (rf"without {_POSS} family",),
}

# A scope clause at the start or end of a sentence ("When I'm with my kids, ...").
CONDITION_WORDS = r"(?:when(?:ever)?|if|while|whenever|on|at|during|any ?time|every time|for)"

# Cues, in case-folded text.
LIFT_CUES = (
    r"(?:is|are|'s|'re) (?:fine|ok|okay|alright|all right|allowed|good|acceptable)(?: (?:now|again|after all|too|with me))?",
    r"(?:is|are|'s|'re) no longer (?:off[- ]limits|banned|a problem|an issue)",
    r"(?:is|are|'s|'re) (?:back on the table|back in|not off[- ]limits)(?: anymore)?",
    r"(?:i )?(?:don'?t|do not) mind",
    r"(?:i'?m|i am) (?:fine|ok|okay|good) with",
    r"(?:you )?can (?:recommend|suggest|show|include)",
    r"feel free to (?:recommend|suggest|show|include)",
    r"(?:i )?(?:no longer|don'?t|do not) (?:hate|mind|avoid|dislike)(?:\s|$)",
    r"(?:stop|quit) (?:excluding|avoiding|filtering out|skipping|hiding)",
    r"(?:i'?ve|i have) (?:changed my mind|come around)",
    r"(?:open to|okay with|ok with|fine with)",
    r"(?:lift|drop|remove|forget|cancel) (?:the|my) (?:rule|ban|restriction|limit)",
    r"(?:i'?m|i am) over (?:my|the)",
    r"(?:forget|ignore|scratch|disregard|never ?mind) (?:that |what |when )?i (?:said|told you|asked(?: for)?|mentioned)",
)
ONLY_CUES = (
    r"\bonly\b",
    r"\bjust\b",
    r"nothing but",
    r"exclusively",
    r"stick (?:to|with)",
    r"(?:must|has to|have to|should) be",
    r"\bstrictly\b",
    r"limit (?:it|yourself|recommendations|suggestions) to",
    r"nothing (?:other|else) than",
    r"nothing that isn'?t",
)
SOFT_AVOID_CUES = (
    r"not (?:a |really a |much of a |the )?(?:big |huge )?fan of",
    r"not (?:really |that |too |very |so )?(?:into|keen on|big on|fond of|crazy about)",
    r"(?:don'?t|do not) (?:really |particularly |much |especially )?(?:like|love|enjoy|care for|care much for|go for)",
    r"(?:i'?d|i would) rather not",
    r"(?:i'?d|i would) rather avoid",
    r"(?:not my (?:thing|cup of tea|favou?rite))",
    r"(?:less|fewer)\b",
    r"go easy on",
)
SOFT_PREFER_CUES = (
    r"(?:i )?(?:really |absolutely |just )?(?:love|adore|like|enjoy|prefer|dig)\b",
    r"(?:i'?m|i am) (?:a )?(?:big |huge )?(?:fan of|into|keen on|fond of|crazy about)",
    r"(?:my )?favou?rites?",
    r"(?:more|lots of|plenty of)\b",
    r"(?:can'?t get enough of)",
)
HARD_EXCLUDE_CUES = (
    r"\bnever\b",
    r"\bno\b",
    r"\bnothing\b",
    r"\bnone\b",
    r"\bnot\b",
    r"\bwithout\b",
    r"(?:don'?t|do not|doesn'?t|does not|won'?t|will not|wouldn'?t)",
    r"\bavoid",
    r"\bskip",
    r"\bexclude",
    r"\bhate",
    r"\bdetest",
    r"\bloathe",
    r"\bdespise",
    r"can'?t stand",
    r"cannot stand",
    r"can'?t bear",
    r"(?:sick|tired) of",
    r"(?:i'?m|i am) done with",
    r"\bban\b",
    r"\bbanned\b",
    r"off[- ]limits",
    r"keep .{0,40}? away",
    r"spare me",
    r"\bstop\b",
    r"\bfilter out",
    r"\bleave out",
    r"\bcut out",
    r"\bno more\b",
    r"\bdrop\b",
    r"\bdislike",
    r"\bhide\b",
    r"\bblock\b",
    r"not interested in",
    r"(?:i'?ve|i have) (?:already )?(?:seen|watched)",
)

STANDING_CUES = (
    r"\bnever\b",
    r"\balways\b",
    r"from now on",
    r"going forward",
    r"in (?:the )?future",
    r"\bin general\b",
    r"\bgenerally\b",
    r"as a rule",
    r"by default",
    r"\bever\b",
    r"every ?time",
    r"\bwhenever\b",
    r"\bremember\b",
    r"keep in mind",
    r"\bno more\b",
    r"\banymore\b",
    r"\bno longer\b",
    r"(?:is|are|'s|'re) (?:fine|ok|okay|alright|allowed|good) (?:now|again|after all)",
    r"changed my mind",
    r"\bplease (?:don'?t|do not|stop|never|only)\b",
    r"\b(?:don'?t|do not|stop|quit) (?:ever )?(?:recommend|suggest|show|give|offer|include|pick|send)",
    r"\bi (?:really |absolutely |just |totally )?(?:hate|detest|loathe|despise|love|adore|like|enjoy|prefer|dislike)\b",
    r"can'?t stand",
    r"cannot stand",
    r"can'?t bear",
    r"(?:i'?m|i am) (?:not )?(?:a )?(?:big |huge )?fan of",
    r"(?:i'?m|i am) (?:not )?(?:really )?(?:into|keen on|big on|fond of)",
    r"(?:i )?(?:don'?t|do not) (?:really )?(?:want|watch|like|do|enjoy|care for|mind)",
    r"(?:sick|tired) of",
    r"(?:i'?m|i am) done with",
    r"off[- ]limits",
    r"(?:i'?ve|i have) (?:already )?(?:seen|watched)",
    r"(?:not my (?:thing|cup of tea))",
    # statements of taste (the soft cues that describe the user rather than this request)
    r"\bmy (?:all[- ]time )?favou?rites?\b",
    r"\bi (?:really )?dig\b",
    r"can'?t get enough of",
    r"\bnot (?:a |really a |much of a )?(?:big |huge )?fan of",
    r"(?:don'?t|do not) (?:particularly|especially|much) (?:like|love|enjoy|care for|go for)",
    r"(?:i'?d|i would) rather (?:not|avoid)",
    r"\bstick (?:to|with)\b",
    r"\brule\b",
    r"\bnothing (?:older|newer|earlier|later|before|after|from|made|released|prior|pre)",
    r"\bonly (?:recommend|suggest|show|give|want|watch)",
    r"(?:keep|leave) .{0,40}? (?:away|out)",
    r"\bspare me\b",
    r"\bwhen(?:ever)? i\b",
    r"\bif i'?m\b",
    r"\bif (?:my|the)\b",
)
# A sentence that opens with a prohibition or restriction states a rule by its form ("No westerns.", "Skip slashers",
# "Only 90s films"), even without a standing cue.
# A bare attribute phrase ("the 1990s", "action but not horror", "comedy please") does not.
RULE_OPENERS = (
    r"^(?:(?:please|actually|also|and|oh|ok(?:ay)?|so|honestly)[, ]+)*"
    r"(?:no|nothing|none|never|skip|avoid|exclude|stop|only|keep|leave out|filter out|cut out|spare me|"
    r"(?:don'?t|do not) (?:recommend|suggest|show|give|offer|include|pick|send)|"
    r"(?:i|we) (?:only|(?:don'?t|do not) want|(?:don'?t|do not) watch))\b",
)
# Words that open a new clause after a comma: the clause does not inherit the previous clause's polarity
# ("no comedies tonight, something from the 80s"), unlike a list item ("no horror, westerns or musicals").
CLAUSE_OPENERS = (
    r"^(?:something|anything|maybe|perhaps|preferably|ideally|possibly|probably|rather|instead|"
    r"how about|what about|(?:i|we|you|it|that|this|they)(?:'\w+)?|a|an|some|give|show|find|recommend|suggest|"
    r"pick|get|make it|could|can|would|will|please|thanks|thank you|then|also)\b",
)
# Past-tense judgements of something watched: feedback, neither a rule nor a request ("I hated Heat").
FEEDBACK_CUES = (
    r"^(?:(?:honestly|actually|oh|wow|man|well)[, ]+)?(?:i|we) (?:really |absolutely |totally |just |kind of |kinda )?"
    r"(?:hated|loved|liked|enjoyed|disliked|adored|couldn'?t stand|didn'?t (?:like|enjoy|care for|love))\b",
)
ONE_OFF_CUES = (
    r"\btonight\b",
    r"\btoday\b",
    r"\bthis (?:evening|afternoon|morning|time|weekend|friday|saturday|sunday)\b",
    r"\bright now\b",
    r"\bfor now\b",
    r"\bat the moment\b",
    r"\btomorrow\b",
    r"(?<!or )(?<!and )\blater\b",
    r"\bin the mood for\b",
    r"\bfeel(?:ing)? like (?:watching|a|an|some)\b",
)
REQUEST_CUES = (
    r"\b(?:can|could|would|will) you (?:recommend|suggest|find|show|give|pick)",
    r"^(?:please )?(?:recommend|suggest|find|show|give|pick|get) (?:me|us|something|a|an|some)",
    r"\bwhat (?:should|could|can) (?:i|we) watch",
    r"\bwhat'?s (?:a )?good",
    r"\bany (?:good )?(?:recommendations|suggestions|ideas|tips)",
    r"\b(?:i'?m|i am|we'?re|we are) looking for",
    r"\blooking for\b",
    r"\b(?:i|we) (?:want|wanna|would like|'d like) to watch",
    r"\b(?:i|we) (?:need|want) (?:a|an|some|something)",
    r"^(?:a|an|some|something|anything)\b",
    r"\bsomething\b",
    r"\?\s*$",
    r"\bhelp me (?:find|pick|choose)",
    r"\bin the mood for\b",
)

# Relations a user can name by role ("the director of Alien").
ROLE_WORDS: dict[str, str] = {
    "director": r"(?:director|directed|filmmaker|maker)",
    "writer": r"(?:writer|screenwriter|wrote|written)",
    "producer": r"(?:producer|produced)",
    "production_company": r"(?:studio|company|production company)",
    "cinematographer": r"(?:cinematographer|dp|director of photography)",
    "actor": r"(?:actor|actress|star|cast member)",
}
