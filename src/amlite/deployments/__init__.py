"""Deployments: ARM templates, Bicep and Terraform AzAPI, deployed through the jobs services."""
