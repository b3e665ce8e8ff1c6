// Fills each a4mer_msgs message with the generated C++ structs and prints a field, then
// prints PoseForecast's field layout and type hash as the introspection typesupport sees
// them, so a build shows the C++ side agrees with the type description JSON.
#include <cstdio>
#include <string>

#include "a4mer_msgs/msg/motif_anticipation.hpp"
#include "a4mer_msgs/msg/pose_forecast.hpp"
#include "a4mer_msgs/msg/skeleton3_d_array.hpp"
#include "a4mer_msgs/msg/detail/pose_forecast__rosidl_typesupport_introspection_cpp.hpp"
#include "rosidl_typesupport_introspection_cpp/message_introspection.hpp"

int main()
{
  a4mer_msgs::msg::PoseForecast forecast;
  forecast.header.frame_id = "base_link";
  forecast.person_id = 7;
  forecast.step_period.nanosec = 100000000;
  forecast.joint_names = {"pelvis", "left_hip"};
  forecast.num_steps = 2;
  geometry_msgs::msg::Point p;
  p.x = 1.0;
  p.y = 0.5;
  p.z = 0.9;
  forecast.points.assign(forecast.num_steps * forecast.joint_names.size(), p);
  forecast.spread_m = {0.05f, 0.1f};

  a4mer_msgs::msg::MotifAnticipation motif;
  motif.person_id = forecast.person_id;
  motif.motif_now = 3;
  motif.health = a4mer_msgs::msg::MotifAnticipation::HEALTH_OK;

  a4mer_msgs::msg::Skeleton3DArray people;
  people.bodies.resize(1);
  people.bodies[0].layout = "smpl24";

  std::printf(
    "PoseForecast person_id=%u frame_id=%s points=%zu; MotifAnticipation motif_now=%d; "
    "Skeleton3DArray bodies[0].layout=%s\n",
    forecast.person_id, forecast.header.frame_id.c_str(), forecast.points.size(),
    motif.motif_now, people.bodies[0].layout.c_str());

  const rosidl_message_type_support_t * ts =
    ROSIDL_TYPESUPPORT_INTERFACE__MESSAGE_SYMBOL_NAME(
    rosidl_typesupport_introspection_cpp, a4mer_msgs, msg, PoseForecast)();
  const auto * members =
    static_cast<const rosidl_typesupport_introspection_cpp::MessageMembers *>(ts->data);
  std::printf("%s::%s fields:", members->message_namespace_, members->message_name_);
  for (uint32_t i = 0; i < members->member_count_; ++i) {
    std::printf(" %s%s", members->members_[i].name_, members->members_[i].is_array_ ? "[]" : "");
  }
  std::printf("\n");

  const rosidl_type_hash_t * hash = ts->get_type_hash_func(ts);
  std::string hex;
  char byte[3];
  for (uint8_t b : hash->value) {
    std::snprintf(byte, sizeof(byte), "%02x", b);
    hex += byte;
  }
  std::printf("PoseForecast type hash: RIHS%02d_%s\n", hash->version, hex.c_str());
  return 0;
}
