from .walkthrough import main

main(prog="python -m ember.examples")
