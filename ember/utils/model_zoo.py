"""ember.utils.model_zoo: PyTorch's older name for hub's checkpoint download, load_url (= load_state_dict_from_url)."""
from ..hub import load_state_dict_from_url as load_url

__all__ = ["load_url"]
