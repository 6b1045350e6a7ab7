// The network of a scenario as a graph (Boost.Graph): devices, switches and shared media (a Wi-Fi
// channel behind an access point) joined by links. From it come each device pair's route, the
// channels the route crosses (what concurrent transfers share), its latency and its bottleneck.
// The cost model prices every transfer and all-reduce on these routes and channels, and
// asteroid-sim builds its SimGrid platform from the same graph (docs/formats.md, "network").
//
// Choices that are ours:
// - A channel is what transfers share: each direction of a full-duplex link is one channel, a
//   half-duplex link is one channel for both directions, and a medium is one channel for every
//   transfer that crosses it, whichever way and between whichever stations.
// - A transfer between two stations of a medium crosses it once: a medium's bandwidth is the rate
//   one station-to-station transfer gets alone (for an access point that relays every frame, half
//   its radio rate). A station's attachment has no capacity or latency of its own.
// - Routes take the fewest hops; devices do not forward. Two routes of the fewest hops between two
//   devices (a loop) are an error, not a choice: no routing protocol is modelled.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace asteroid {

enum class Duplex { full, half };
enum class NodeKind { device, network_switch, medium, coordinator };

// A link as a scenario gives it (the shorthands `star` and `wifi` are written as such links).
struct LinkSpec {
  std::string a, b;  // node names: devices, switches or media
  double bandwidth_Bps = 0;
  double latency_s = 0;
  Duplex duplex = Duplex::full;
};

// A shared medium: one channel of `bandwidth_Bps` that its stations reach without a link.
struct MediumSpec {
  std::string name;
  double bandwidth_Bps = 0;
  double latency_s = 0;  // added once per crossing
  std::vector<std::string> stations;
};

struct GraphSpec {
  std::vector<std::string> switches;
  std::vector<MediumSpec> media;
  std::vector<LinkSpec> links;
  // Where the coordinator's host attaches: a switch or a medium. At a switch, by a full-duplex link
  // as fast as the fastest link there, with that link's latency; at a medium, as a station.
  std::string coordinator;
};

struct NetNode {
  std::string name;
  NodeKind kind = NodeKind::device;
  double bandwidth_Bps = 0;  // medium only
  double latency_s = 0;      // medium only
  int channel = -1;          // medium only
};

struct NetLink {
  int a = 0, b = 0;  // node indices
  double bandwidth_Bps = 0;
  double latency_s = 0;
  Duplex duplex = Duplex::full;
  bool station = false;                  // an attachment to a medium (no channel of its own)
  int channel_ab = -1, channel_ba = -1;  // the channel of each direction (one and the same if half)
};

struct Channel {
  std::string name;  // "nx0>sw0" (one direction), "sw0-sw1" (half duplex), "wlan" (a medium)
  double capacity_Bps = 0;
};

// One step of a route: a link in a direction, or the crossing of a medium.
struct RouteStep {
  int link = -1;        // -1: the step is `medium`
  bool forward = true;  // from link.a to link.b
  int medium = -1;      // node index
};

class Network {
 public:
  // Builds the graph and every host pair's route. Hosts are the devices (nodes 0..n-1, in the
  // scenario's order) and the coordinator (node n). On failure returns null and sets `error` to one
  // line (a device not connected, or two shortest routes between two devices).
  static std::shared_ptr<const Network> build(const std::vector<std::string>& devices, const GraphSpec& spec,
                                              std::string* error);

  int num_devices() const { return num_devices_; }
  int coordinator() const { return num_devices_; }  // the coordinator's host, as a host index
  const std::vector<NetNode>& nodes() const { return nodes_; }
  const std::vector<NetLink>& links() const { return links_; }
  const std::vector<Channel>& channels() const { return channels_; }

  // Host indices: devices 0..n-1, the coordinator n. Route from a to b, in order.
  std::vector<RouteStep> route(int a, int b) const;
  // The channels the route from a to b crosses, appended to `out` (order not specified).
  void route_channels(int a, int b, std::vector<int>* out) const;
  double route_latency_s(int a, int b) const { return latency_[size_t(a) * hosts() + b]; }
  double route_bandwidth_Bps(int a, int b) const { return bottleneck_[size_t(a) * hosts() + b]; }

  // The node every host hangs off when the graph is a star (each host joined to it by one link of
  // its own or as a station of it, and nothing else); -1 otherwise.
  int star_center() const { return star_center_; }
  // Whether some channel carries both directions (a medium or a half-duplex link).
  bool has_shared_channels() const { return has_shared_; }
  // A host's own link (its first link), or -1 when it is a station of a medium only.
  int host_link(int host) const { return host_link_[host]; }
  // The medium a host is a station of, or -1.
  int host_medium(int host) const { return host_medium_[host]; }

 private:
  int hosts() const { return num_devices_ + 1; }
  // A directed use of a link in the routing graph (devices are split in two vertices, one that
  // sends and one that receives, so that no route passes through a device).
  struct Arc {
    int link = -1;
    bool forward = true;
    int from = -1, to = -1;  // routing-graph vertices
  };

  int num_devices_ = 0;
  std::vector<NetNode> nodes_;
  std::vector<NetLink> links_;
  std::vector<Channel> channels_;
  std::vector<Arc> arcs_;
  std::vector<int> pred_;  // [source host][vertex]: the arc by which the route from source reaches it
  std::vector<double> latency_, bottleneck_;  // [a][b] over hosts
  std::vector<int> host_link_, host_medium_;
  int star_center_ = -1;
  bool has_shared_ = false;
};

}  // namespace asteroid
