"""What gets deployed: the desired state, the orchestrator's description, its IAM documents and their lint, the Lambda
package, and what ``render`` writes from them (the ASL, the documents, the CloudFormation template)."""
