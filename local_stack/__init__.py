"""Real stand-ins for the managed AWS and Databricks parts, run on one machine without Docker.

LocalStack (S3, Kinesis, API Gateway, IAM), the Tansu Kafka broker, our Kafka REST Proxy, our S3 sink worker,
the supervisor that starts and stops them by PID, and the local notebook runner.
"""
