from mnemo.gateway.bootstrap import main

main()
