"""Shape families: the names of every parametric shape the mesh backend can draw.

A family is one recognisable way of drawing a thing (a plate, a pool table, a teddy
bear); many catalog categories share one family ("dinner plate", "saucer" → plate),
but two different kinds of thing never share one. ``FAMILY_NAMES`` maps each family to a
one-line description of what it draws and example categories; the catalog assigns each
of its categories one of these names.
"""

from __future__ import annotations

import functools

from services.meshgen import furnishings, furniture, household, leisure, office
from services.meshgen.primitives import Builder

FAMILY_NAMES: dict[str, str] = {
    # --- Seating -----------------------------------------------------------------------
    "chair": "four legs, seat and slatted back: chair, dining chair, kitchen chair",
    "armchair": "upholstered single seat with rolled arms: armchair, lounge chair, recliner",
    "office chair": "five-star castor base, gas lift, seat and back: desk chair, gaming chair",
    "folding chair": "thin crossed metal legs, slim seat and back: folding chair, camp chair",
    "rocking chair": "chair on two curved runners with spindle back: rocking chair, glider",
    "high chair": "tall splayed legs, small seat with a tray in front: baby high chair",
    "stool": "round seat on legs with a foot ring: stool, bar stool, counter stool",
    "bench": "long seat on legs: bench, hall bench, piano bench, garden bench",
    "sofa": "long upholstered seat, back, two arms, cushions: sofa, couch, loveseat",
    "sectional sofa": "L-shaped sofa with a chaise end: sectional, corner sofa",
    "ottoman": "padded box on short feet: ottoman, footstool, pouf, hassock",
    "beanbag": "squashed soft sack: beanbag, floor cushion, bean bag chair",
    "cushion": "plump square pillow: cushion, pillow, throw pillow, floor pillow",
    # --- Tables and desks --------------------------------------------------------------
    "table": "rectangular top on four legs: table, work table, craft table",
    "dining table": "long top, apron and four legs: dining table, kitchen table",
    "round table": "round top on a central pedestal: round table, bistro table, cafe table",
    "coffee table": "low top with a lower shelf: coffee table, cocktail table",
    "side table": "small top on slim legs: side table, end table, accent table",
    "conference table": "long boat-shaped top on two panel bases: conference/meeting table",
    "picnic table": "table with attached bench seats on A-frames: picnic table",
    "desk": "top with a drawer pedestal and modesty panel: desk, writing desk",
    "school desk": "small desk with a book box under the lid on tube legs: school/student desk",
    "reception desk": "tall front counter with a lower work top behind: reception/front desk",
    "lectern": "slanted reading top on a column or box: lectern, podium, pulpit",
    "lab bench": "worktop on cabinets with a reagent shelf riser: lab bench, workbench",
    "workbench": "heavy wooden top with a vice, lower shelf and pegboard: workbench, tool bench",
    # --- Game tables -------------------------------------------------------------------
    "pool table": "heavy table with cushioned rails, six pockets and felt bed: pool/billiard table",
    "ping pong table": "thin green top on folding legs with a net across: ping pong/table tennis",
    "foosball table": "box on legs with rods and players across: foosball/table football",
    "air hockey table": "rail-edged slick top on a cabinet base with goals: air hockey table",
    "card table": "octagonal felt-topped table on legs with cup rails: poker/card table",
    "chess board": "flat checkered board with a few pieces: chess board, checkers, board game",
    "arcade machine": "tall cabinet with slanted screen, controls and marquee: arcade cabinet",
    "pinball machine": "sloped glass-topped playfield on legs with a backbox: pinball",
    "dartboard": "round board of rings on a wall plate: dartboard",
    # --- Storage -----------------------------------------------------------------------
    "wardrobe": "tall cabinet with hinged doors and a cornice: wardrobe, closet, armoire",
    "cabinet": "box with two doors and handles: cabinet, cupboard, sideboard",
    "dresser": "chest of drawers with handles: dresser, chest of drawers, commode",
    "nightstand": "small drawer unit on legs: nightstand, bedside table",
    "filing cabinet": "tall narrow metal drawers with label holders: filing cabinet",
    "locker": "tall metal doors with vents, side by side: locker, gym locker",
    "bookshelf": "open shelves filled with books: bookshelf, bookcase",
    "shelf": "open shelves, empty: shelf, shelving unit, wall shelf, rack",
    "display case": "glass-fronted cabinet with shelves: display case, vitrine, showcase",
    "shoe rack": "low slatted shelves with shoes: shoe rack, shoe cabinet",
    "coat rack": "pole on a tripod foot with hooks: coat rack, hat stand, coat stand",
    "clothes rack": "rail on two uprights with hanging garments: clothing rack, garment rail",
    "tv stand": "low media unit with open shelf and doors: tv stand, media console",
    "kitchen cabinet": "base cabinets with countertop, doors and drawers: kitchen counter, island",
    "chest": "box with a domed lid and straps: chest, trunk, toy chest, blanket box",
    "box": "closed cardboard box with flaps seam: box, carton, package, parcel",
    "crate": "slatted wooden crate: crate, wooden box, pallet box",
    "storage bin": "open tub with rim and handles: storage bin, tote, plastic box",
    "basket": "woven round basket with handle: basket, laundry basket, wicker basket",
    "trash can": "tapered bin with a lid: trash can, waste bin, garbage can, recycling bin",
    "bucket": "tapered pail with a wire handle: bucket, pail",
    "barrel": "bulging staved barrel with hoops: barrel, keg, cask",
    "suitcase": "upright case with a telescopic handle and wheels: suitcase, luggage",
    "backpack": "soft pack with front pocket and straps: backpack, bag, rucksack, school bag",
    "safe": "heavy steel box with dial and handle: safe, strongbox, vault",
    # --- Beds --------------------------------------------------------------------------
    "bed": "frame, headboard, mattress, duvet and pillows: bed, double bed, single bed",
    "bunk bed": "two stacked beds on posts with a ladder: bunk bed, loft bed",
    "crib": "slatted cot on legs with a mattress: crib, cot, baby bed, bassinet",
    "hospital bed": "bed on castors with side rails and raised head: hospital bed, gurney",
    "mattress": "plain mattress on the floor: mattress, futon, floor bed, sleeping mat",
    "pet bed": "round padded ring with a cushion: dog bed, cat bed, pet bed",
    "hammock": "sagging fabric between two stands: hammock",
    # --- Tableware, cutlery and drinks -------------------------------------------------
    "plate": "flat round plate with a raised rim: plate, dinner plate, saucer, dish",
    "bowl": "round bowl with a foot ring: bowl, salad bowl, soup bowl, fruit bowl",
    "cup": "cylindrical cup with a loop handle: cup, mug, teacup, coffee cup",
    "wine glass": "bowl on a stem and foot: wine glass, champagne flute, goblet",
    "drinking glass": "clear straight tumbler: glass, tumbler, water glass",
    "bottle": "bottle with shoulder, neck and cap: bottle, wine bottle, water bottle",
    "jar": "squat jar with a wide lid: jar, jam jar, cookie jar, canister",
    "teapot": "round pot with spout, handle and lid: teapot, kettle (stovetop)",
    "cooking pot": "straight pot with two handles and a lid: pot, saucepan, stockpot",
    "frying pan": "shallow pan with a long handle: frying pan, skillet, wok",
    "tray": "flat tray with a low rim and handles: tray, serving tray",
    "cutting board": "wooden board with a handle hole: cutting board, chopping board",
    "fork": "fork with handle and four tines: fork",
    "knife": "knife with handle and blade: knife, table knife, kitchen knife",
    "spoon": "spoon with handle and oval bowl: spoon, ladle, teaspoon",
    "chopsticks": "a pair of thin sticks: chopsticks",
    "cake": "round layered cake with a top tier: cake, pie, tart",
    "fruit": "a small pile of round fruit: fruit, apple, orange, food",
    "food plate": "plate with a heap of food: meal, dish of food, pizza, sandwich",
    # --- Paper, books and office things ------------------------------------------------
    "book": "closed book with cover and page block: book, novel, textbook",
    "book stack": "a few stacked books: stack of books, pile of books, magazines",
    "notebook": "thin flat pad of paper: notebook, paper, document, folder, envelope",
    "pen": "slim pen with a cap and clip: pen, pencil, marker, crayon, brush",
    "pen holder": "small cup of pens: pen holder, pencil cup",
    "laptop": "open laptop: base with keys and a tilted screen: laptop, notebook computer",
    "computer monitor": "screen on a neck and foot: monitor, computer screen, display",
    "keyboard": "flat keyboard with key rows: keyboard, computer keyboard",
    "computer tower": "upright case with vents and a power button: desktop pc, computer",
    "printer": "box with paper tray and output slot: printer, copier, scanner, fax",
    "telephone": "desk phone with handset and keypad: telephone, desk phone",
    "phone": "thin slab with a screen: smartphone, mobile phone, tablet",
    "globe": "sphere on a tilted arc and stand: globe",
    "cash register": "register with drawer, keypad and customer display: till, POS",
    "shop counter": "counter with a front panel and overhanging top: counter, checkout, bar",
    "bar counter": "tall bar with foot rail and back shelf: bar, bar counter",
    # --- Boards and signs --------------------------------------------------------------
    "whiteboard": "framed white board with a pen tray: whiteboard, dry-erase board",
    "chalkboard": "framed dark board with a chalk ledge: chalkboard, blackboard",
    "bulletin board": "framed cork board with pinned notes: notice board, corkboard",
    "easel": "tripod stand holding a board or canvas: easel, flip chart, display stand",
    "sign": "panel on a post with a base: sign, signpost, directional sign",
    "wall sign": "flat plaque on the wall: wall sign, plaque, exit sign, name plate",
    "sandwich board": "A-frame board: sandwich board, sidewalk sign, menu board (floor)",
    "flag": "flag on a pole with a base: flag, banner stand",
    "projector screen": "white screen hanging from a roller case: projection screen",
    # --- Screens and media -------------------------------------------------------------
    "tv": "flat screen with bezel on a foot: tv, television, flat screen",
    "projector": "small box with a lens: projector, beamer",
    "speaker": "box with woofer and tweeter cones: speaker, loudspeaker, subwoofer",
    "game console": "slim box with a controller beside it: game console, set-top box, router",
    "radio": "box with a dial and speaker grille: radio, record player, stereo",
    "camera": "camera body with lens: camera, camcorder",
    "tripod": "three legs with a head: tripod, camera stand",
    # --- Musical instruments -----------------------------------------------------------
    "piano": "upright piano with keys, lid and pedals: piano, upright piano",
    "grand piano": "curved case on three legs with raised lid and keys: grand piano",
    "electronic keyboard": "keyboard on an X stand: synthesizer, digital piano, keyboard",
    "guitar": "waisted body with sound hole, neck and head: guitar, ukulele, bass guitar",
    "violin": "small waisted body with f-holes and scroll: violin, viola, cello, double bass",
    "drum kit": "bass drum, snare, toms and cymbals on stands: drum kit, drums, drum set",
    "drum": "single drum with rims: drum, bongo, snare drum",
    "harp": "triangular frame with strings: harp",
    "microphone": "microphone on a stand with a round base: microphone, mic stand",
    "music stand": "slanted sheet holder on a thin pole: music stand",
    "amplifier": "box with grille cloth and knobs on top: amplifier, amp",
    "trumpet": "brass bell with tubing and valves: trumpet, horn, trombone, saxophone",
    # --- Gym ---------------------------------------------------------------------------
    "treadmill": "belt deck with side rails and console: treadmill, running machine",
    "exercise bike": "saddle, flywheel and handlebars on a frame: exercise/spin bike",
    "rowing machine": "long rail with seat, foot plates and flywheel: rowing machine, rower",
    "elliptical": "frame with two long pedals and moving handles: elliptical, cross trainer",
    "weight bench": "padded bench with an upright barbell rack: weight bench, bench press",
    "squat rack": "four-post cage with a barbell: squat rack, power rack, smith machine",
    "weight machine": "frame with a weight stack, seat and cables: cable machine, leg press",
    "dumbbell rack": "sloped rack with pairs of dumbbells: dumbbell rack, weights",
    "dumbbell": "two weights on a short bar: dumbbell, barbell (small), kettlebell",
    "punching bag": "heavy cylinder hanging from a bracket on a stand: punching bag",
    "exercise ball": "large ball: exercise ball, yoga ball, medicine ball, beach ball",
    "yoga mat": "thin mat with a rolled end: yoga mat, exercise mat, gym mat",
    # --- Toys and leisure --------------------------------------------------------------
    "teddy bear": "sitting bear with head, ears, arms and legs: teddy bear, plush, stuffed toy",
    "doll": "small figure with head, body, arms and legs: doll, action figure, figurine",
    "ball": "a round ball: ball, football, basketball, soccer ball",
    "toy car": "small car with wheels and cabin: toy car, toy truck, toy train",
    "rocking horse": "horse on curved rockers: rocking horse, hobby horse",
    "toy blocks": "a stack of coloured cubes: building blocks, lego, toy blocks",
    "dollhouse": "small house with gable roof and open rooms: dollhouse, play house",
    "kite": "diamond kite with a tail: kite",
    "bicycle": "two wheels, frame, saddle and handlebar: bicycle, bike, scooter",
    "skateboard": "board on four wheels: skateboard, surfboard, snowboard (lying)",
    "sculpture": "abstract figure on a plinth: sculpture, statue, bust, trophy",
    "aquarium": "glass tank on a stand with water and plants: aquarium, fish tank, terrarium",
    "bird cage": "domed cage of bars on a stand: bird cage, cage",
    # --- Plants and flowers ------------------------------------------------------------
    "plant": "leafy plant in a pot: plant, houseplant, potted plant",
    "potted tree": "trunk and round crown in a planter: tree, ficus, olive tree, palm",
    "cactus": "columnar cactus with arms in a pot: cactus, succulent",
    "flowers in vase": "vase with stems and blossoms: flowers, bouquet, vase of flowers",
    "vase": "empty bulbous vase with neck: vase, urn, amphora",
    "hanging plant": "pot hanging from ropes with trailing leaves: hanging plant, planter",
    # --- Lights and fire ---------------------------------------------------------------
    "floor lamp": "tall pole on a round base with a shade: floor lamp, standing lamp",
    "table lamp": "base, stem and a shade: table lamp, desk lamp, bedside lamp",
    "desk lamp": "articulated arm lamp with a cone head: desk lamp, task lamp, reading lamp",
    "pendant light": "shade hanging from a cord: pendant light, hanging lamp",
    "chandelier": "ring of arms with candle bulbs hanging from a rod: chandelier",
    "ceiling light": "flush round dome: ceiling light, ceiling lamp, downlight",
    "wall sconce": "wall plate with an arm and small shade: sconce, wall lamp, wall light",
    "candle": "candle stick on a holder with a flame: candle, candlestick, candelabra",
    "lantern": "frame box with glass and a top ring: lantern, lamp (hurricane)",
    "ceiling fan": "hub with blades hanging from a rod: ceiling fan",
    "fireplace": "mantel, firebox and hearth: fireplace, wood stove, hearth",
    # --- Appliances --------------------------------------------------------------------
    "fridge": "tall box with two doors and handles: fridge, refrigerator, freezer",
    "stove": "range with burners on top, oven door and knobs: stove, oven, cooker",
    "microwave": "box with a door window and keypad: microwave, toaster oven",
    "washing machine": "cube with a round porthole door and dials: washer, dryer",
    "dishwasher": "box with a fold-down door and top control strip: dishwasher",
    "toaster": "small box with two slots and a lever: toaster",
    "coffee machine": "machine with a group head, drip tray and cup: coffee/espresso maker",
    "kettle": "electric jug kettle on a base: kettle, water boiler",
    "blender": "jug on a motor base: blender, mixer, food processor, juicer",
    "range hood": "chimney hood over a cooktop: range hood, extractor hood",
    "air conditioner": "wall split unit with louvre: air conditioner, ac unit",
    "fan": "round guard with blades on a pole and base: standing fan, desk fan",
    "radiator": "row of vertical fins on feet: radiator, heater",
    "space heater": "small box heater with grille: space heater, dehumidifier, air purifier",
    "vacuum cleaner": "upright body with a floor head and handle: vacuum cleaner, mop",
    "water cooler": "cabinet with an upside-down water jug: water cooler, dispenser",
    "vending machine": "tall box with glass front and product rows: vending machine, atm",
    "sewing machine": "machine arm on a base: sewing machine",
    "ironing board": "narrow board on crossed legs: ironing board",
    # --- Bathroom ----------------------------------------------------------------------
    "sink": "basin on a vanity with a tap: sink, washbasin, vanity",
    "toilet": "bowl, seat and cistern: toilet, wc",
    "bathtub": "rounded tub with a rim and tap: bathtub, bath",
    "shower": "tray with glass panels and a shower head: shower, shower cabin",
    "towel rack": "bars on two uprights with a towel: towel rack, towel rail",
    # --- Walls, windows and decor ------------------------------------------------------
    "painting": "framed canvas: painting, artwork, canvas, poster, print",
    "picture frame": "small frame with a stand or wall mount: photo frame, picture",
    "mirror": "framed mirror: mirror, wall mirror",
    "clock": "round wall clock with hands: clock, wall clock",
    "grandfather clock": "tall case clock with a pendulum window: grandfather clock",
    "curtains": "rod with gathered drapes: curtains, drapes",
    "blinds": "stack of thin slats under a head rail: blinds, shutters",
    "rug": "flat rug with a border: rug, carpet, runner, mat",
    "room divider": "three hinged panels: room divider, folding screen, partition",
    "column": "round column with base and capital: column, pillar, pedestal",
    "ladder": "two rails with rungs: ladder, step ladder",
    "umbrella stand": "tall open cylinder with umbrellas: umbrella stand",
    "mannequin": "torso on a pole with a base: mannequin, dress form",
    # --- Medical, lab and work ---------------------------------------------------------
    "microscope": "arm with eyepiece and stage on a base: microscope",
    "fume hood": "tall enclosure with a glass sash over a worktop: fume hood",
    "examination table": "padded couch with a raised head on a cabinet: exam table, massage table",
    "iv stand": "pole on a castor base with hooks: iv stand, drip stand",
    "wheelchair": "seat between two big wheels with small castors: wheelchair",
    "shopping cart": "wire basket on a wheeled frame with a handle: shopping cart, trolley",
    "tool chest": "red rolling chest of drawers: tool chest, tool cabinet",
    "machine": "industrial machine: base, housing, control panel: machine, lathe, 3d printer",
    # --- Fallbacks by proportion (not assigned by the catalog) -------------------------
    "generic cabinet": "a closed upright box with a door line: tall unknown things",
    "generic table": "a top on legs: low wide unknown things",
    "generic block": "a small rounded block: small unknown things",
}

GENERIC_FAMILIES: frozenset[str] = frozenset({"generic cabinet", "generic table", "generic block"})


_BUILDERS: dict[str, Builder] = {
    **furniture.BUILDERS,
    **household.BUILDERS,
    **furnishings.BUILDERS,
    **office.BUILDERS,
    **leisure.BUILDERS,
    **furniture.GENERIC,
}


def builder(family: str, boards: tuple[float, ...] = ()) -> Builder:
    """The function that draws ``family``; ValueError for a name that is not a family.

    ``boards`` (rising fractions of the height) place a shelving family's boards where
    the planner stands things on them; other families ignore them.
    """
    if boards and family in furniture.BOARDED:
        return functools.partial(furniture.BOARDED[family], boards=boards)
    try:
        return _BUILDERS[family]
    except KeyError:
        raise ValueError(f"unknown shape family {family!r}") from None
