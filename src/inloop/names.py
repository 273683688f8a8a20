"""Friendly run names: `adjective-animal`, like `gregarious-owl`."""

from __future__ import annotations

import random

__all__ = ["generate_run_name"]

ADJECTIVES = (
    "amber agile amiable ardent azure bold brave breezy bright brisk calm candid cheerful "
    "clever cosmic crimson curious daring dapper dazzling eager earnest electric elegant "
    "fearless festive fierce frosty gentle giddy glowing gracious gregarious hardy hearty "
    "honest humble jolly jovial keen kind lively loyal lucid lucky mellow merry mighty modest "
    "nimble noble olive patient peppy placid plucky polite proud quick quiet radiant rapid "
    "resolute rustic sage scarlet serene sharp shiny silent silver sleek smart snappy solid "
    "sparkling spirited steady stellar stoic sunny swift tactful tidy tireless tranquil "
    "upbeat valiant vibrant vigilant vivid warm wise witty zealous zesty"
).split()

ANIMALS = (
    "aardvark albatross alpaca antelope armadillo badger beaver bison bobcat buffalo camel "
    "capybara caribou cheetah chipmunk cobra condor cougar coyote crane crow deer dingo "
    "dolphin donkey dove eagle eel elk emu falcon ferret finch flamingo fox gazelle gecko "
    "gibbon giraffe goose gorilla grouse hare hawk hedgehog heron hippo hornet hyena ibis "
    "iguana impala jackal jaguar jay kangaroo kestrel kiwi koala lemur leopard lion llama "
    "lobster lynx macaw magpie marmot meerkat mink mole moose narwhal newt ocelot octopus "
    "okapi orca osprey otter owl panda panther parrot pelican penguin puffin quail rabbit "
    "raccoon raven reindeer robin salmon seal shark sloth sparrow squid starling stork swan "
    "tapir tiger toucan turtle viper walrus weasel whale wolf wombat yak zebra"
).split()


def generate_run_name(rng: random.Random | None = None) -> str:
    pick = rng or random
    return f"{pick.choice(ADJECTIVES)}-{pick.choice(ANIMALS)}"
