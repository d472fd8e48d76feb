"""AWS access behind small adapters: pynamodb models and stores, one module per aggregate."""
