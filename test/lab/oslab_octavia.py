"""Octavia network driver for amphora-less test clouds (installed into $OSLAB_STATE/pyext by octavia.sh).

What a user of the API sees goes to the lab's real Neutron: the VIP subnet/network/port lookups the API
validates with, and the VIP port itself (allocated on create, deleted on delete, by Octavia's own
allowed-address-pairs driver). What only matters inside amphorae (plugging the VIP into an amphora's
VM, security groups on amphora ports, failover) is no-op, like the no-op amphora and compute drivers."""
from octavia.network.drivers.neutron.allowed_address_pairs import AllowedAddressPairsDriver
from octavia.network.drivers.noop_driver.driver import NoopNetworkDriver

_FROM_NEUTRON = (
    'allocate_vip', 'deallocate_vip', 'get_network', 'get_subnet', 'get_port', 'get_qos_policy',
    'get_network_by_name', 'get_subnet_by_name', 'get_port_by_name', 'get_port_by_net_id_device_id',
    'get_security_group', 'get_network_ip_availability', 'qos_enabled',
)


class VipPortDriver(NoopNetworkDriver):
    def __init__(self):
        super().__init__()
        self.neutron = AllowedAddressPairsDriver()


def _delegate(name):
    return lambda self, *args, **kwargs: getattr(self.neutron, name)(*args, **kwargs)


for _name in _FROM_NEUTRON:
    setattr(VipPortDriver, _name, _delegate(_name))
