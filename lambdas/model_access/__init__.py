"""Custom resources for Bedrock settings CloudFormation has no resource type for."""
