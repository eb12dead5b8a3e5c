"""The fidelity benchmark's prompts and what a person expects of each room.

Each case is a prompt, the room type it names, the floor size it gives (None when it
gives none) and every object it asks for: the catalog category, how many, and where it
goes — ``floor``, ``wall``, ``ceiling``, or ``on <category>`` (standing on or inside
that kind of thing, e.g. ``on bookshelf`` for books on its boards).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Expected:
    category: str
    count: int
    where: str  # "floor", "wall", "ceiling" or "on <category>"


@dataclass(frozen=True)
class Case:
    prompt: str
    room: str
    size: tuple[float, float] | None
    objects: tuple[Expected, ...]


def _case(prompt: str, room: str, size: tuple[float, float] | None, objects: str) -> Case:
    """``objects``: "category count where; ..." with where one of floor, wall, ceiling,
    on <category>."""
    parsed = []
    for part in objects.split(";"):
        words = part.split()
        if not words:
            continue
        at = next(k for k, w in enumerate(words) if w.isdigit())
        category, count, where = " ".join(words[:at]), int(words[at]), " ".join(words[at + 1 :])
        parsed.append(Expected(category, count, where))
    return Case(prompt, room, size, tuple(parsed))


CASES: tuple[Case, ...] = (
    # --- Shops -----------------------------------------------------------------------
    _case(
        "a bookstore with 4 bookshelves, 50 books, a counter with a cash register and two "
        "armchairs",
        "bookstore",
        None,
        "bookshelf 4 floor; book 50 on bookshelf; shop counter 1 floor; "
        "cash register 1 on shop counter; armchair 2 floor",
    ),
    _case(
        "a small bookshop with three bookcases, 40 books, a display table with 6 books on it, "
        "a reading chair and a floor lamp",
        "bookstore",
        None,
        "bookshelf 3 floor; book 46 on bookshelf; display table 1 floor; armchair 1 floor; "
        "floor lamp 1 floor",
    ),
    _case(
        "a florist with a counter, 8 flower buckets, two display tables, 10 vases of flowers "
        "on the tables and a cash register",
        "florist",
        None,
        "shop counter 1 floor; flower bucket 8 floor; display table 2 floor; "
        "flowers 10 on display table; cash register 1 on shop counter",
    ),
    _case(
        "a 5 by 6 meter flower shop with a shop counter, six flower buckets, three potted "
        "plants, a display table and 5 bouquets on the display table",
        "florist",
        (5.0, 6.0),
        "shop counter 1 floor; flower bucket 6 floor; plant 3 floor; display table 1 floor; "
        "flowers 5 on display table",
    ),
    _case(
        "a clothing store with 5 clothes racks, 3 mannequins, a counter, a cash register, "
        "two mirrors on the wall and a bench",
        "clothing store",
        None,
        "clothes rack 5 floor; mannequin 3 floor; shop counter 1 floor; "
        "cash register 1 on shop counter; mirror 2 wall; bench 1 floor",
    ),
    _case(
        "a boutique with four clothing racks, two mannequins, a display table with 8 folded "
        "shirts and a full length mirror",
        "clothing store",
        None,
        "clothes rack 4 floor; mannequin 2 floor; display table 1 floor; "
        "clothes 8 on display table; mirror 1 wall",
    ),
    _case(
        "a grocery store with 6 shelving units, 2 display fridges, 4 fruit crates, a checkout "
        "counter, a cash register and 2 shopping carts",
        "grocery store",
        None,
        "shelving unit 6 floor; display fridge 2 floor; fruit crate 4 floor; "
        "shop counter 1 floor; cash register 1 on shop counter; shopping cart 2 floor",
    ),
    _case(
        "a 9x10 m supermarket with eight store shelves, three drinks fridges, a checkout and "
        "a till",
        "grocery store",
        (9.0, 10.0),
        "shelving unit 8 floor; display fridge 3 floor; shop counter 1 floor; "
        "cash register 1 on shop counter",
    ),
    _case(
        "a toy store with 4 shelving units, 10 teddy bears, 6 dolls, 5 toy cars, a rocking "
        "horse, a counter and a cash register",
        "toy store",
        None,
        "shelving unit 4 floor; teddy bear 10 on shelving unit; doll 6 on shelving unit; "
        "toy car 5 on shelving unit; rocking horse 1 floor; shop counter 1 floor; "
        "cash register 1 on shop counter",
    ),
    _case(
        "a pharmacy with five shelving units, a counter, a cash register, a display case and "
        "two chairs",
        "pharmacy",
        None,
        "shelving unit 5 floor; shop counter 1 floor; cash register 1 on shop counter; "
        "display case 1 floor; chair 2 floor",
    ),
    _case(
        "a bakery with two display cases, a counter, a cash register, a bread rack with 12 "
        "loaves of bread, 8 pastries in the display case and two cafe tables with 4 chairs",
        "bakery",
        None,
        "display case 2 floor; shop counter 1 floor; cash register 1 on shop counter; "
        "bread rack 1 floor; bread 12 on bread rack; pastry 8 on display case; "
        "cafe table 2 floor; chair 4 floor",
    ),
    _case(
        "a pet shop with four shelving units, two bird cages, an aquarium on a cabinet, a "
        "counter and a cash register",
        "pet shop",
        None,
        "shelving unit 4 floor; bird cage 2 floor; aquarium 1 on cabinet; cabinet 1 floor; "
        "shop counter 1 floor; cash register 1 on shop counter",
    ),
    _case(
        "a gift shop with 3 display tables, 12 candles on the tables, 2 shelving units, a "
        "counter and a cash register",
        "shop",
        None,
        "display table 3 floor; candle 12 on display table; shelving unit 2 floor; "
        "shop counter 1 floor; cash register 1 on shop counter",
    ),
    # --- Cafés, restaurants, bars -----------------------------------------------------------
    _case(
        "a cafe with a counter, an espresso machine on the counter, a cash register, 6 cafe "
        "tables, 12 chairs, 12 cups on the tables and a menu board",
        "cafe",
        None,
        "shop counter 1 floor; coffee machine 1 on shop counter; cash register 1 on shop counter; "
        "cafe table 6 floor; chair 12 floor; cup 12 on cafe table; menu board 1 wall",
    ),
    _case(
        "a 30 square meter coffee shop with four small tables, eight chairs, a counter, a "
        "coffee machine and two plants",
        "cafe",
        None,
        "cafe table 4 floor; chair 8 floor; shop counter 1 floor; "
        "coffee machine 1 on shop counter; plant 2 floor",
    ),
    _case(
        "a 10 by 12 meter buffet restaurant with 8 tables, 32 chairs, 2 buffet stations, 32 "
        "plates, 32 forks, 32 knives and 32 glasses",
        "restaurant",
        (10.0, 12.0),
        "restaurant table 8 floor; chair 32 floor; buffet station 2 floor; "
        "plate 32 on restaurant table; fork 32 on restaurant table; "
        "knife 32 on restaurant table; glass 32 on restaurant table",
    ),
    _case(
        "a restaurant with 6 tables, 24 chairs, 24 plates, 24 wine glasses, 6 candles on the "
        "tables, a host stand and two paintings on the wall",
        "restaurant",
        None,
        "restaurant table 6 floor; chair 24 floor; plate 24 on restaurant table; "
        "wine glass 24 on restaurant table; candle 6 on restaurant table; host stand 1 floor; "
        "painting 2 wall",
    ),
    _case(
        "a sushi restaurant with four tables, sixteen chairs, 16 bowls, 16 pairs of "
        "chopsticks and a bar counter",
        "sushi restaurant",
        None,
        "restaurant table 4 floor; chair 16 floor; bowl 16 on restaurant table; "
        "chopsticks 16 on restaurant table; bar counter 1 floor",
    ),
    _case(
        "a pizzeria with 5 tables, 20 chairs, 20 plates, 5 salt shakers and a pizza oven",
        "restaurant",
        None,
        "restaurant table 5 floor; chair 20 floor; plate 20 on restaurant table; "
        "salt shaker 5 on restaurant table; stove 1 floor",
    ),
    _case(
        "a 20 by 30 ft diner with 6 booths, 6 tables, a counter, 5 bar stools and a jukebox",
        "restaurant",
        (6.096, 9.144),
        "booth 6 floor; restaurant table 6 floor; shop counter 1 floor; bar stool 5 floor; "
        "jukebox 1 floor",
    ),
    _case(
        "a bar with a bar counter, 8 bar stools, a liquor shelf with 20 bottles, 3 high "
        "tables and a tv on the wall",
        "bar",
        None,
        "bar counter 1 floor; bar stool 8 floor; liquor shelf 1 floor; "
        "bottle 20 on liquor shelf; high table 3 floor; tv 1 wall",
    ),
    _case(
        "a cozy pub with a bar, six barstools, four round tables, 16 chairs, a dartboard and "
        "12 pint glasses on the bar",
        "bar",
        None,
        "bar counter 1 floor; bar stool 6 floor; round table 4 floor; chair 16 floor; "
        "dartboard 1 wall; glass 12 on bar counter",
    ),
    _case(
        "a wine bar with a counter, a wine rack, 10 wine glasses on the counter, 4 high "
        "tables and 8 bar stools",
        "bar",
        None,
        "bar counter 1 floor; wine rack 1 floor; wine glass 10 on bar counter; "
        "high table 4 floor; bar stool 8 floor",
    ),
    # --- Homes ---------------------------------------------------------------------------
    _case(
        "a bedroom with a queen bed, two nightstands, two table lamps, a wardrobe, four "
        "pillows on the bed and a painting above the bed",
        "bedroom",
        None,
        "double bed 1 floor; nightstand 2 floor; table lamp 2 on nightstand; wardrobe 1 floor; "
        "cushion 4 on double bed; painting 1 wall",
    ),
    _case(
        "a 4 by 5 meter bedroom with a king bed, a dresser with a mirror above it, 3 books on "
        "the nightstand, a nightstand and an alarm clock",
        "bedroom",
        (4.0, 5.0),
        "king bed 1 floor; dresser 1 floor; mirror 1 wall; book 3 on nightstand; "
        "nightstand 1 floor; alarm clock 1 on nightstand",
    ),
    _case(
        "a teenage bedroom with a single bed, a desk, a gaming chair, a computer monitor, a "
        "keyboard, a bookshelf with 20 books and a poster on the wall",
        "teenage bedroom",
        None,
        "single bed 1 floor; desk 1 floor; gaming chair 1 floor; computer monitor 1 on desk; "
        "keyboard 1 on desk; bookshelf 1 floor; book 20 on bookshelf; painting 1 wall",
    ),
    _case(
        "a living room with a sofa, a coffee table, two armchairs, a tv stand, a tv, a rug, "
        "five cushions on the sofa and a vase on the coffee table",
        "living room",
        None,
        "sofa 1 floor; coffee table 1 floor; armchair 2 floor; tv stand 1 floor; "
        "tv 1 on tv stand; rug 1 floor; cushion 5 on sofa; vase 1 on coffee table",
    ),
    _case(
        "a 5x6 m living room with a sectional sofa facing the tv, a tv stand, a coffee table, "
        "a floor lamp, a bookshelf with 30 books and two plants",
        "living room",
        (5.0, 6.0),
        "sectional sofa 1 floor; tv 1 on tv stand; tv stand 1 floor; coffee table 1 floor; "
        "floor lamp 1 floor; bookshelf 1 floor; book 30 on bookshelf; plant 2 floor",
    ),
    _case(
        "a kitchen with a fridge, a stove, a sink, four kitchen cabinets, a toaster, a kettle, "
        "a microwave on the counter and a table with four chairs",
        "kitchen",
        None,
        "fridge 1 floor; stove 1 floor; sink 1 floor; kitchen cabinet 4 floor; "
        "toaster 1 on kitchen cabinet; kettle 1 on kitchen cabinet; "
        "microwave 1 on kitchen cabinet; "
        "table 1 floor; chair 4 floor",
    ),
    _case(
        "a kitchen with a kitchen island, three bar stools, a fridge, a stove, a sink, two "
        "kitchen cabinets, a cutting board, 6 knives and a fruit bowl on the island",
        "kitchen",
        None,
        "kitchen island 1 floor; bar stool 3 floor; fridge 1 floor; stove 1 floor; sink 1 floor; "
        "kitchen cabinet 2 floor; cutting board 1 on kitchen island; knife 6 on kitchen island; "
        "bowl decor 1 on kitchen island",
    ),
    _case(
        "a dining room with a dining table, six chairs, six plates, six forks, six knives, six "
        "wine glasses, a table runner on the table and a sideboard",
        "dining room",
        None,
        "dining table 1 floor; chair 6 floor; plate 6 on dining table; fork 6 on dining table; "
        "knife 6 on dining table; wine glass 6 on dining table; table runner 1 on dining table; "
        "sideboard 1 floor",
    ),
    _case(
        "a bathroom with a bathtub, a toilet, a sink with a mirror above it, a towel rack, a "
        "cabinet and 3 towels on the cabinet",
        "bathroom",
        None,
        "bathtub 1 floor; toilet 1 floor; sink 1 floor; mirror 1 wall; towel rack 1 wall; "
        "cabinet 1 floor; towel 3 on cabinet",
    ),
    _case(
        "a kids room with a bunk bed, a toy box, 5 teddy bears on the bed, a rocking horse, a "
        "small table with two small chairs and toy blocks on the table",
        "kids room",
        None,
        "bunk bed 1 floor; toy box 1 floor; teddy bear 5 on bunk bed; rocking horse 1 floor; "
        "table 1 floor; chair 2 floor; toy blocks 1 on table",
    ),
    _case(
        "a nursery with a crib, a changing table, a rocking chair, a dresser, 3 teddy bears "
        "on the dresser and a rug",
        "nursery",
        None,
        "crib 1 floor; changing table 1 floor; rocking chair 1 floor; dresser 1 floor; "
        "teddy bear 3 on dresser; rug 1 floor",
    ),
    _case(
        "a studio apartment with a double bed, a sofa, a kitchenette counter, a fridge, a "
        "small dining table with two chairs and a desk",
        "studio",
        None,
        "double bed 1 floor; sofa 1 floor; kitchen cabinet 1 floor; fridge 1 floor; "
        "dining table 1 floor; chair 2 floor; desk 1 floor",
    ),
    _case(
        "a home office with a desk, an office chair, a monitor, a laptop, a desk lamp, a "
        "filing cabinet, a bookshelf with 25 books and a printer",
        "office",
        None,
        "desk 1 floor; office chair 1 floor; computer monitor 1 on desk; laptop 1 on desk; "
        "desk lamp 1 on desk; filing cabinet 1 floor; bookshelf 1 floor; book 25 on bookshelf; "
        "printer 1 on desk",
    ),
    _case(
        "a 3 by 4 m study with a writing desk, a desk chair, 2 pens and a notebook on the desk, "
        "a globe and a floor lamp",
        "office",
        (3.0, 4.0),
        "desk 1 floor; office chair 1 floor; pen 2 on desk; notebook 1 on desk; globe 1 on desk; "
        "floor lamp 1 floor",
    ),
    _case(
        "a library with eight bookcases, 100 books, two reading tables, eight chairs and four "
        "desk lamps on the tables",
        "library",
        None,
        "bookshelf 8 floor; book 100 on bookshelf; table 2 floor; chair 8 floor; "
        "desk lamp 4 on table",
    ),
    _case(
        "a laundry room with a washing machine, a dryer, a sink, an ironing board, two laundry "
        "baskets and a shelf",
        "laundry room",
        None,
        "washing machine 1 floor; dryer 1 floor; sink 1 floor; ironing board 1 floor; "
        "laundry basket 2 floor; shelf 1 wall",
    ),
    _case(
        "a 6 by 6 meter garage with a car, a workbench, two shelving units, a tool chest, a "
        "bicycle, a ladder and a toolbox on the workbench",
        "garage",
        (6.0, 6.0),
        "car 1 floor; workbench 1 floor; shelving unit 2 floor; tool chest 1 floor; "
        "bicycle 1 floor; ladder 1 floor; toolbox 1 on workbench",
    ),
    _case(
        "a hallway with a console table, a coat rack, a mirror, a shoe rack, an umbrella stand "
        "and a bowl for keys on the console table",
        "hallway",
        None,
        "console table 1 floor; coat rack 1 floor; mirror 1 wall; shoe rack 1 floor; "
        "umbrella stand 1 floor; bowl 1 on console table",
    ),
    _case(
        "a home theater with two recliners, a sofa, a projector screen, a projector, four "
        "speakers and a popcorn machine",
        "home theater",
        None,
        "recliner 2 floor; sofa 1 floor; projector screen 1 wall; projector 1 ceiling; "
        "speaker 4 floor; popcorn machine 1 floor",
    ),
    _case(
        "a dorm room with a single bed, a desk, a desk chair, a mini fridge, a laptop on the "
        "desk, a backpack and a poster",
        "dorm room",
        None,
        "single bed 1 floor; desk 1 floor; office chair 1 floor; mini fridge 1 floor; "
        "laptop 1 on desk; backpack 1 floor; painting 1 wall",
    ),
    _case(
        "a hotel room with a king bed, two nightstands, two table lamps, a tv, a desk, a chair, "
        "a luggage rack and a suitcase",
        "hotel room",
        None,
        "king bed 1 floor; nightstand 2 floor; table lamp 2 on nightstand; tv 1 wall; "
        "desk 1 floor; "
        "chair 1 floor; luggage rack 1 floor; suitcase 1 floor",
    ),
    # --- Schools and labs ---------------------------------------------------------------------
    _case(
        "a classroom with 20 student desks, 20 chairs, a teacher's desk, a whiteboard, a "
        "bookshelf, 20 notebooks on the desks and a globe",
        "classroom",
        None,
        "student desk 20 floor; chair 20 floor; teachers desk 1 floor; whiteboard 1 wall; "
        "bookshelf 1 floor; notebook 20 on student desk; globe 1 on teachers desk",
    ),
    _case(
        "an 8 by 9 meter classroom with 24 desks, 24 chairs, a chalkboard, a teachers desk "
        "and a clock",
        "classroom",
        (8.0, 9.0),
        "student desk 24 floor; chair 24 floor; chalkboard 1 wall; teachers desk 1 floor; "
        "clock 1 wall",
    ),
    _case(
        "a 6x8 m computer lab with 12 computer desks, 12 office chairs, 12 monitors, 12 "
        "keyboards and a printer",
        "computer lab",
        (6.0, 8.0),
        "computer desk 12 floor; office chair 12 floor; computer monitor 12 on computer desk; "
        "keyboard 12 on computer desk; printer 1 on computer desk",
    ),
    _case(
        "a science lab with four lab benches, eight lab stools, a fume hood, a sink, six "
        "microscopes on the benches and 12 beakers",
        "science lab",
        None,
        "lab bench 4 floor; lab stool 8 floor; fume hood 1 floor; sink 1 floor; "
        "microscope 6 on lab bench; lab equipment 12 on lab bench",
    ),
    _case(
        "a chemistry lab with three lab tables, six stools, a fume hood, a safety shower, "
        "10 test tubes and 6 flasks on the tables",
        "science lab",
        None,
        "lab bench 3 floor; stool 6 floor; fume hood 1 floor; shower 1 floor; "
        "lab equipment 16 on lab bench",
    ),
    _case(
        "an art classroom with 6 work tables, 12 stools, 4 easels, a sink, a shelving unit "
        "with 10 paint sets and paintings on the walls",
        "art classroom",
        None,
        "work table 6 floor; stool 12 floor; easel 4 floor; sink 1 floor; shelving unit 1 floor; "
        "yarn basket 10 on shelving unit; painting 2 wall",
    ),
    _case(
        "a kindergarten classroom with four kids tables, sixteen small chairs, cubbies, a rug, "
        "20 toy blocks on the shelf and a whiteboard",
        "kindergarten classroom",
        None,
        "kids table 4 floor; chair 16 floor; cubby 2 floor; rug 1 floor; "
        "toy blocks 20 on cubby; whiteboard 1 wall",
    ),
    _case(
        "a school library with 6 bookshelves, 60 books, 3 tables and 12 chairs",
        "library",
        None,
        "bookshelf 6 floor; book 60 on bookshelf; table 3 floor; chair 12 floor",
    ),
    # --- Clinics ---------------------------------------------------------------------------------
    _case(
        "a doctor's office with an examination table, a desk, an office chair, two chairs, a "
        "sink, a cabinet, a computer on the desk and an eye chart on the wall",
        "clinic",
        None,
        "examination table 1 floor; desk 1 floor; office chair 1 floor; chair 2 floor; "
        "sink 1 floor; cabinet 1 floor; computer 1 on desk; eye chart 1 wall",
    ),
    _case(
        "a dental clinic with a dental chair, a trolley, a sink, a cabinet, a stool and an "
        "exam light",
        "dental clinic",
        None,
        "examination table 1 floor; trolley 1 floor; sink 1 floor; cabinet 1 floor; "
        "stool 1 floor; exam light 1 floor",
    ),
    _case(
        "a hospital room with a hospital bed, an iv stand, a patient monitor, a visitor chair, "
        "a nightstand and a tv on the wall",
        "hospital room",
        None,
        "hospital bed 1 floor; iv stand 1 floor; medical monitor 1 floor; chair 1 floor; "
        "nightstand 1 floor; tv 1 wall",
    ),
    _case(
        "a waiting room with 10 chairs, a coffee table with 8 magazines, a reception desk, a "
        "water cooler, two plants and a clock",
        "waiting room",
        None,
        "chair 10 floor; coffee table 1 floor; books stack 8 on coffee table; "
        "reception desk 1 floor; water cooler 1 floor; plant 2 floor; clock 1 wall",
    ),
    _case(
        "a 5 by 6 m waiting area with two sofas, a magazine rack, a tv, a vending machine and "
        "a side table",
        "waiting room",
        (5.0, 6.0),
        "sofa 2 floor; magazine rack 1 floor; tv 1 wall; vending machine 1 floor; "
        "side table 1 floor",
    ),
    # --- Gyms, studios, game rooms ------------------------------------------------------------
    _case(
        "a gym with 4 treadmills, 3 exercise bikes, a weight bench, a dumbbell rack, 10 "
        "dumbbells, a squat rack and 6 yoga mats",
        "gym",
        None,
        "treadmill 4 floor; exercise bike 3 floor; weight bench 1 floor; dumbbell rack 1 floor; "
        "dumbbell 10 floor; squat rack 1 floor; yoga mat 6 floor",
    ),
    _case(
        "a home gym with a rowing machine, a punching bag, two kettlebells, an exercise ball, a "
        "mirror and a water bottle on the shelf",
        "gym",
        None,
        "rowing machine 1 floor; punching bag 1 floor; dumbbell 2 floor; exercise ball 1 floor; "
        "mirror 1 wall; bottle 1 on shelf; shelf 1 wall",
    ),
    _case(
        "a yoga studio with 12 yoga mats, 3 mirrors, two speakers and 4 plants",
        "yoga studio",
        None,
        "yoga mat 12 floor; mirror 3 wall; speaker 2 floor; plant 4 floor",
    ),
    _case(
        "a game room with a pool table, a ping-pong table, a dartboard, a foosball table, two "
        "bar stools and a mini fridge",
        "game room",
        None,
        "pool table 1 floor; ping pong table 1 floor; dartboard 1 wall; foosball table 1 floor; "
        "bar stool 2 floor; mini fridge 1 floor",
    ),
    _case(
        "a games room with an air hockey table, two arcade machines, a pinball machine, a "
        "sofa, a tv and 3 game controllers on the coffee table",
        "game room",
        None,
        "air hockey table 1 floor; arcade machine 2 floor; pinball machine 1 floor; sofa 1 floor; "
        "tv 1 wall; game controller 3 on coffee table; coffee table 1 floor",
    ),
    _case(
        "a card room with a poker table, six chairs, two decks of cards and poker chips on the "
        "table, a bar cart and a floor lamp",
        "card room",
        None,
        "card table 1 floor; chair 6 floor; chess board 3 on card table; bar cart 1 floor; "
        "floor lamp 1 floor",
    ),
    _case(
        "a music room with a grand piano, a drum kit, two guitars, a music stand, an amplifier "
        "and a microphone",
        "music room",
        None,
        "grand piano 1 floor; drum kit 1 floor; guitar 2 floor; music stand 1 floor; "
        "amplifier 1 floor; microphone 1 floor",
    ),
    _case(
        "a recording studio with a mixing desk, two speakers, a microphone, a keyboard stand "
        "with a synthesizer, a sofa and acoustic panels",
        "music room",
        None,
        "amplifier 1 floor; speaker 2 floor; microphone 1 floor; electronic keyboard 1 floor; "
        "sofa 1 floor; sound panel 2 wall",
    ),
    _case(
        "an art studio with three easels, a work table, two stools, a sink, 6 canvases on the "
        "wall and a shelving unit",
        "art studio",
        None,
        "easel 3 floor; work table 1 floor; stool 2 floor; sink 1 floor; painting 6 wall; "
        "shelving unit 1 floor",
    ),
    _case(
        "a pottery studio with a pottery wheel, a kiln, two work tables, four stools and 12 "
        "bowls on the shelving unit",
        "art studio",
        None,
        "machine 2 floor; work table 2 floor; stool 4 floor; bowl 12 on shelving unit; "
        "shelving unit 1 floor",
    ),
    _case(
        "a sewing room with a sewing table, a sewing machine on the table, a chair, a dress "
        "form, a shelf and a yarn basket",
        "sewing room",
        None,
        "sewing table 1 floor; sewing machine 1 on sewing table; chair 1 floor; mannequin 1 floor; "
        "shelf 1 wall; yarn basket 1 on shelf",
    ),
    # --- Offices and public rooms ---------------------------------------------------------------
    _case(
        "a conference room with a conference table, ten office chairs, a projector screen, a "
        "whiteboard, 10 notebooks and 10 pens on the table",
        "conference room",
        None,
        "conference table 1 floor; office chair 10 floor; projector screen 1 wall; "
        "whiteboard 1 wall; notebook 10 on conference table; pen 10 on conference table",
    ),
    _case(
        "a 6 by 8 meter meeting room with a large table, 12 chairs, a tv on the wall, a "
        "speakerphone on the table and a plant",
        "conference room",
        (6.0, 8.0),
        "table 1 floor; chair 12 floor; tv 1 wall; conference phone 1 on table; plant 1 floor",
    ),
    _case(
        "an open plan office with 8 desks, 8 office chairs, 8 monitors, 4 filing cabinets, a "
        "printer and a water cooler",
        "office",
        None,
        "desk 8 floor; office chair 8 floor; computer monitor 8 on desk; filing cabinet 4 floor; "
        "printer 1 on desk; water cooler 1 floor",
    ),
    _case(
        "a hotel lobby with a reception desk, two sofas, four armchairs, a coffee table, three "
        "plants, a chandelier and a luggage cart",
        "lobby",
        None,
        "reception desk 1 floor; sofa 2 floor; armchair 4 floor; coffee table 1 floor; "
        "plant 3 floor; chandelier 1 ceiling; luggage cart 1 floor",
    ),
    _case(
        "a reception area with a front desk, a desk phone on it, six chairs, a brochure stand "
        "and a bench",
        "waiting room",
        None,
        "reception desk 1 floor; telephone 1 on reception desk; chair 6 floor; "
        "display stand 1 floor; bench 1 floor",
    ),
    _case(
        "an art gallery with 10 paintings, 3 sculptures on pedestals, 3 pedestals and two benches",
        "art gallery",
        None,
        "painting 10 wall; sculpture 3 on pedestal; pedestal 3 floor; bench 2 floor",
    ),
    _case(
        "a hair salon with three salon chairs, three mirrors, two shampoo stations, a "
        "reception desk, 12 hair products on the shelf and a shelf",
        "hair salon",
        None,
        "salon chair 3 floor; mirror 3 wall; shampoo station 2 floor; reception desk 1 floor; "
        "beauty products 12 on shelf; shelf 1 wall",
    ),
    _case(
        "a barbershop with 2 barber chairs, 2 mirrors, a bench, a coat rack and a tv",
        "hair salon",
        None,
        "salon chair 2 floor; mirror 2 wall; bench 1 floor; coat rack 1 floor; tv 1 wall",
    ),
    _case(
        "a workshop with two workbenches, a tool chest, a pegboard, a drill press, a lathe, "
        "4 power tools on the workbench and two stools",
        "workshop",
        None,
        "workbench 2 floor; tool chest 1 floor; pegboard 1 wall; machine 2 floor; "
        "power tool 4 on workbench; stool 2 floor",
    ),
    _case(
        "a bowling alley lounge with two sofas, a coffee table, a bar counter, 6 bar stools "
        "and a vending machine",
        "bowling alley lounge",
        None,
        "sofa 2 floor; coffee table 1 floor; bar counter 1 floor; bar stool 6 floor; "
        "vending machine 1 floor",
    ),
    _case(
        "a tattoo parlour with two tattoo chairs, a stool, a trolley, a mirror, a display "
        "case and 4 framed prints on the wall",
        "tattoo parlour",
        None,
        "examination table 2 floor; stool 1 floor; trolley 1 floor; mirror 1 wall; "
        "display case 1 floor; painting 4 wall",
    ),
    _case(
        "an escape room with a table, two chairs, a bookshelf with 15 books, a safe, a chest "
        "and a grandfather clock",
        "escape room",
        None,
        "table 1 floor; chair 2 floor; bookshelf 1 floor; book 15 on bookshelf; safe 1 floor; "
        "chest 1 floor; grandfather clock 1 floor",
    ),
    _case(
        "a board game cafe with 5 tables, 20 chairs, 4 shelving units with 40 board games, a "
        "counter and 20 mugs on the tables",
        "board game cafe",
        None,
        "cafe table 5 floor; chair 20 floor; shelving unit 4 floor; "
        "chess board 40 on shelving unit; "
        "shop counter 1 floor; cup 20 on cafe table",
    ),
    _case(
        "an ice cream parlor with a counter, 2 freezers, 4 bistro tables, 8 chairs and a cash "
        "register",
        "cafe",
        None,
        "shop counter 1 floor; freezer 2 floor; cafe table 4 floor; chair 8 floor; "
        "cash register 1 on shop counter",
    ),
    _case(
        "a tea room with 4 round tables, 12 chairs, 4 teapots and 12 teacups on the tables and "
        "a cake stand",
        "cafe",
        None,
        "round table 4 floor; chair 12 floor; teapot 4 on round table; cup 12 on round table; "
        "cake stand 1 on round table",
    ),
    _case(
        "a wine cellar with 3 wine racks, 2 barrels, a high table and 2 bar stools",
        "wine cellar",
        None,
        "wine rack 3 floor; barrel 2 floor; high table 1 floor; bar stool 2 floor",
    ),
    _case(
        "a photo studio with two tripods, two light stands, a backdrop, a stool and a table "
        "with a camera on it",
        "photo studio",
        None,
        "tripod 4 floor; stool 1 floor; camera 1 on work table; work table 1 floor",
    ),
    _case(
        "a meditation room with 6 meditation cushions, a low table, 4 candles on the table, "
        "a plant and a room divider",
        "yoga studio",
        None,
        "yoga mat 6 floor; table 1 floor; candle 4 on table; plant 1 floor; room divider 1 floor",
    ),
    _case(
        "a playroom with a play kitchen, a dollhouse, a slide, a bean bag, 10 stuffed animals "
        "on the shelf and a shelving unit",
        "kids room",
        None,
        "play kitchen 1 floor; dollhouse 1 floor; slide 1 floor; bean bag 1 floor; "
        "teddy bear 10 on shelving unit; shelving unit 1 floor",
    ),
    _case(
        "a sunroom with two lounge chairs, a coffee table, 6 potted plants, a hanging plant "
        "and a ceiling fan",
        "sunroom",
        None,
        "armchair 2 floor; coffee table 1 floor; plant 6 floor; hanging plant 1 ceiling; "
        "ceiling fan 1 ceiling",
    ),
    _case(
        "a walk-in closet with two wardrobes, a dresser, a full length mirror, a shoe rack and "
        "an ottoman",
        "walk in closet",
        None,
        "wardrobe 2 floor; dresser 1 floor; mirror 1 wall; shoe rack 1 floor; ottoman 1 floor",
    ),
    _case(
        "a mail room with a mail sorter, two tables, a hand truck, 12 boxes and a shelving unit",
        "mail room",
        None,
        "cubby 1 floor; table 2 floor; hand truck 1 floor; box 12 floor; shelving unit 1 floor",
    ),
    # --- Written as a user would, without looking at the catalog first ---------------------
    _case(
        "a bowling alley with two lanes, a ball return, ten bowling balls and a score screen",
        "bowling alley",
        None,
        "bowling lane 2 floor; ball return 1 floor; ball 10 floor; tv 1 wall",
    ),
    _case(
        "a vet clinic with an exam table, a scale, two dog crates and a medicine cabinet",
        "vet clinic",
        None,
        "examination table 1 floor; scale 1 floor; pet crate 2 floor; cabinet 1 floor",
    ),
    _case(
        "a candy store with 12 jars of candy on shelves, two shelving units, a counter, a "
        "cash register and a gumball machine",
        "candy store",
        None,
        "jar 12 on shelving unit; shelving unit 2 floor; shop counter 1 floor; "
        "cash register 1 on shop counter; gumball machine 1 floor",
    ),
    _case(
        "an escape room with a locked chest, a bookshelf, an old radio, a desk with a "
        "typewriter on it and a safe",
        "escape room",
        None,
        "chest 1 floor; bookshelf 1 floor; radio 1 on bookshelf; desk 1 floor; "
        "typewriter 1 on desk; safe 1 floor",
    ),
    _case(
        "a science classroom with 6 lab tables, 12 stools, a periodic table poster, a "
        "skeleton and a sink",
        "science classroom",
        None,
        "lab bench 6 floor; stool 12 floor; eye chart 1 wall; anatomical skeleton 1 floor; "
        "sink 1 floor",
    ),
    _case(
        "a boxing gym with a boxing ring, six punching bags, a bench and a water cooler",
        "boxing gym",
        None,
        "boxing ring 1 floor; punching bag 6 floor; bench 1 floor; water cooler 1 floor",
    ),
    _case(
        "a nail salon with four manicure tables, eight chairs, a shelf with 20 bottles of "
        "nail polish and a reception desk",
        "hair salon",
        None,
        "nail station 4 floor; chair 8 floor; shelf 1 wall; beauty products 20 on shelf; "
        "reception desk 1 floor",
    ),
    _case(
        "a cozy reading nook with a velvet armchair, a side table with a cup of tea, a stack "
        "of books and a floor lamp",
        "reading nook",
        None,
        "armchair 1 floor; side table 1 floor; cup 1 on side table; books stack 1 on side table; "
        "floor lamp 1 floor",
    ),
    _case(
        "a server room with 6 server racks, an air conditioner, a desk and an office chair",
        "server room",
        None,
        "server rack 6 floor; air conditioner 1 wall; desk 1 floor; office chair 1 floor",
    ),
)
