from barriosms.cli import main

main()
