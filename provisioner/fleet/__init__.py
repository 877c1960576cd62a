"""`deploy.py fleet`: the orchestrator in many accounts and Regions (a CloudFormation StackSet), and runs in all of them."""
