#include "platform.hpp"

#include <simgrid/kernel/ProfileBuilder.hpp>

#include <algorithm>
#include <map>
#include <sstream>

namespace sg4 = simgrid::s4u;

namespace asteroid::sim {
namespace {

// "0 1\n<t> <cumulative factor>\n..." for a device's slowdowns, or nullptr when it has none.
simgrid::kernel::profile::Profile* speed_profile(const std::string& device, const FaultSpec& f) {
  std::vector<const FaultEvent*> mine;
  for (const FaultEvent& e : f.events)
    if (e.device == device && e.kind == FaultKind::slowdown) mine.push_back(&e);
  if (mine.empty()) return nullptr;
  std::sort(mine.begin(), mine.end(), [](auto* a, auto* b) { return a->time_s < b->time_s; });
  std::ostringstream os;
  os.precision(17);
  double factor = 1.0;
  if (mine.front()->time_s > 0) os << "0 1\n";
  for (const FaultEvent* e : mine) {
    factor *= e->factor;
    os << e->time_s << " " << factor << "\n";
  }
  return simgrid::kernel::profile::ProfileBuilder::from_string("speed_" + device, os.str(), -1);
}

// One device's host: the profile's time as flops at kHostSpeed, its memory and type as properties,
// its slowdowns as a speed profile.
sg4::Host* device_host(sg4::NetZone* zone, const Device& d, const FaultSpec& faults) {
  sg4::Host* h = zone->create_host(d.name, kHostSpeed);
  h->set_property("memory_bytes", std::to_string((long long)d.memory_bytes));
  h->set_property("type", d.type);
  if (auto* prof = speed_profile(d.name, faults)) h->set_speed_profile(prof);
  return h->seal();
}

// A SimGrid link per link of the graph (split-duplex when full duplex, shared when half), and one
// shared link per medium.
struct Links {
  std::vector<sg4::Link*> link;    // per NetLink; null for a station's attachment
  std::vector<sg4::Link*> medium;  // per node; null unless a medium
};

Links create_links(sg4::NetZone* zone, const Network& net) {
  Links out;
  for (const NetLink& l : net.links()) {
    sg4::Link* x = nullptr;
    if (!l.station) {
      std::string name = "link_" + net.nodes()[l.a].name + "_" + net.nodes()[l.b].name;
      if (l.duplex == Duplex::full)
        x = zone->create_split_duplex_link(name, l.bandwidth_Bps)->set_latency(l.latency_s)->seal();
      else
        x = zone->create_link(name, l.bandwidth_Bps)->set_latency(l.latency_s)->seal();
    }
    out.link.push_back(x);
  }
  for (const NetNode& n : net.nodes())
    out.medium.push_back(n.kind == NodeKind::medium
                             ? zone->create_link(n.name, n.bandwidth_Bps)->set_latency(n.latency_s)->seal()
                             : nullptr);
  return out;
}

sg4::LinkInRoute in_route(const Links& links, const Network& net, const RouteStep& st) {
  if (st.medium >= 0) return sg4::LinkInRoute(links.medium[st.medium]);
  sg4::Link* l = links.link[st.link];
  if (net.links()[st.link].duplex == Duplex::half) return sg4::LinkInRoute(l);
  return {l, st.forward ? sg4::LinkInRoute::Direction::UP : sg4::LinkInRoute::Direction::DOWN};
}

}  // namespace

Platform build_platform(const Cluster& c, const FaultSpec& faults) {
  const Network& net = *c.network;
  const int hosts = c.size() + 1;  // the devices, then the coordinator
  Platform p;
  const int center = net.star_center();
  // A star is a star zone (routes O(hosts)); any other graph gets every pair's route spelled out.
  auto* zone = center >= 0 ? sg4::create_star_zone("cluster") : sg4::create_full_zone("cluster");
  std::vector<sg4::Host*> all;
  for (const Device& d : c.devices) all.push_back(device_host(zone, d, faults));
  p.hosts = all;
  p.coordinator = zone->create_host("coordinator", kHostSpeed)->seal();
  all.push_back(p.coordinator);
  Links links = create_links(zone, net);
  auto host_of = [&](int h) { return h < c.size() ? c.network_host[h] : net.coordinator(); };
  for (int h = 0; h < c.size(); ++h) {
    int own = net.host_link(host_of(h)), medium = net.host_medium(host_of(h));
    p.links.push_back(own >= 0 ? links.link[own] : medium >= 0 ? links.medium[medium] : nullptr);
  }
  if (center >= 0) {
    for (int h = 0; h < hosts; ++h) {
      int host = host_of(h), own = net.host_link(host);
      if (own < 0 && net.host_medium(host) < 0) continue;  // a coordinator left out of the graph
      std::vector<sg4::LinkInRoute> up;
      if (own >= 0)
        up.push_back(in_route(links, net, {own, net.links()[own].a == host, -1}));
      else
        up.emplace_back(links.medium[net.host_medium(host)]);
      zone->add_route(all[h]->get_netpoint(), nullptr, nullptr, nullptr, up, true);
    }
  } else {
    for (int a = 0; a < hosts; ++a)
      for (int b = a + 1; b < hosts; ++b) {
        std::vector<sg4::LinkInRoute> route;
        bool reached = true;
        for (const RouteStep& st : net.route(host_of(a), host_of(b))) {
          if (st.link == -2) reached = false;
          if (!reached) break;
          route.push_back(in_route(links, net, st));
        }
        if (reached)
          zone->add_route(all[a]->get_netpoint(), all[b]->get_netpoint(), nullptr, nullptr, route, true);
      }
  }
  zone->seal();
  return p;
}

}  // namespace asteroid::sim
