from .walkthrough import main

main()
