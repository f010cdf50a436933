"""MLflow models-from-code script: the model definition ``log_pyfunc_model`` logs.

MLflow copies this file into every logged model and runs it when the model is loaded, so
no pickled Python object is stored. It is never imported by lithomap itself.
"""

from mlflow.models import set_model

from lithomap.registry.pyfunc import LithomapPyfunc

set_model(LithomapPyfunc())
