"""`make demo`: the seed tutorial on ember (the same program as `python -m ember.examples`)."""
import sys

from ember.examples.walkthrough import main

if __name__ == "__main__":
    main(sys.argv[1:])
