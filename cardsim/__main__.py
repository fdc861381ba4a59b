from cardsim.cli.app import main

main()
