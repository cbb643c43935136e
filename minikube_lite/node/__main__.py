from minikube_lite.node.agent import main

main()
